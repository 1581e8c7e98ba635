"""Fuzz target for the cache loader (atheris): arbitrary snapshot and log bytes must open, or
fail with CorruptCacheError / UnsupportedFormatError, never crash or raise anything else.

    .venv/bin/python fuzz/fuzz_loader.py -max_total_time=30       # what `make fuzz` runs
    .venv/bin/python fuzz/fuzz_loader.py -atheris_runs=10000      # a fixed number of inputs

Each input says how to damage a valid file of a golden cache directory (tests/data/golden-v*).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import atheris
import numpy as np

# The loader is Rust and carries no coverage instrumentation, so this is mutation fuzzing seeded
# with valid files; only the thin Python layer is instrumented.
with atheris.instrument_imports(include=["binary_semantic_cache"]):
    from binary_semantic_cache import (
        BinarySemanticCache,
        CorruptCacheError,
        UnsupportedFormatError,
    )

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
WORKDIR = Path(tempfile.mkdtemp(prefix="bsc-fuzz-"))
# (snapshot, log) of each format version that must keep loading.
GOLDEN = [
    ((d / "snapshot.bsc").read_bytes(), (d / "log.bsc").read_bytes())
    for d in sorted(DATA.glob("golden-v*"))
]


def mutate(original: bytes, fdp: atheris.FuzzedDataProvider) -> bytes:
    """Flips, overwrites, cuts and extends a valid file as the input says, so every input is a
    near-valid file even though the Rust loader gives the fuzzer no coverage to steer by."""
    data = bytearray(original)
    for _ in range(fdp.ConsumeIntInRange(0, 8)):
        data[fdp.ConsumeIntInRange(0, len(data) - 1)] = fdp.ConsumeIntInRange(0, 255)
    if fdp.ConsumeBool():
        del data[fdp.ConsumeIntInRange(0, len(data)) :]
    data += fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 64))
    return bytes(data)


def one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    target = WORKDIR / "cache"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(mode=0o700)
    # Damage one file at a time so the loader gets past the other.
    snapshot, log = GOLDEN[fdp.ConsumeIntInRange(0, len(GOLDEN) - 1)]
    damage_snapshot = fdp.ConsumeBool()
    (target / "snapshot.bsc").write_bytes(mutate(snapshot, fdp) if damage_snapshot else snapshot)
    (target / "log.bsc").write_bytes(log if damage_snapshot else mutate(log, fdp))
    try:
        cache = BinarySemanticCache(path=target, read_only=True, rescore=True)
    except (CorruptCacheError, UnsupportedFormatError):
        return
    except ValueError as err:  # a consistent file written with other settings
        if "re-scoring" not in str(err) and "encoder" not in str(err):
            raise
        return
    # Whatever loaded must be usable.
    dim = cache.encoder.embedding_dim
    cache.get(np.ones(dim, dtype=np.float32))
    cache.stats()


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
