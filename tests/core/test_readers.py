"""A read_only=True cache follows the writer in another process: each flush, save and delete
shows up within 1 s, and the reader takes no lock on the directory."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from binary_semantic_cache import BinarySemanticCache

DIM = 16
VECTORS = np.random.default_rng(5).standard_normal((2, DIM)).astype(np.float32)

WRITER = textwrap.dedent(f"""
    import sys
    import numpy as np
    from binary_semantic_cache import BinaryEncoder, BinarySemanticCache

    xs = np.random.default_rng(5).standard_normal((2, {DIM})).astype(np.float32)
    cache = BinarySemanticCache(BinaryEncoder({DIM}), path=sys.argv[1], durability="manual")
    ids = []
    print("ready", flush=True)
    for line in sys.stdin:
        step = line.strip()
        if step == "put and flush":
            ids.append(cache.put(xs[0], "zero"))
            cache.flush()
        elif step == "put and save":
            ids.append(cache.put(xs[1], "one"))
            cache.save()
        elif step == "delete and flush":
            cache.delete(ids[0])
            cache.flush()
        print("done", flush=True)
""")


def responses(reader: BinarySemanticCache) -> list[object]:
    hits = [reader.get(x) for x in VECTORS]
    return [len(reader), *(h.response if h else None for h in hits)]


def test_a_reader_sees_the_writers_flushes_saves_and_deletes_within_a_second(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdin is not None and writer.stdout is not None
    try:
        assert writer.stdout.readline().strip() == "ready"
        reader = BinarySemanticCache(path=path, read_only=True)
        assert responses(reader) == [0, None, None]
        steps: list[tuple[str, list[object]]] = [
            ("put and flush", [1, "zero", None]),
            ("put and save", [2, "zero", "one"]),
            ("delete and flush", [1, None, "one"]),
        ]
        for step, expected in steps:
            writer.stdin.write(step + "\n")
            writer.stdin.flush()
            assert writer.stdout.readline().strip() == "done"
            seen, waited = wait_for(lambda want=expected: responses(reader) == want, within=1.0)
            assert seen, f"after {step!r} the reader still shows {responses(reader)}"
            print(f"{step}: seen by the reader after {waited:.2f} s")
    finally:
        writer.stdin.close()
        writer.wait(timeout=10)
    assert writer.returncode == 0


def wait_for(condition: Callable[[], bool], within: float) -> tuple[bool, float]:
    start = time.monotonic()
    while True:
        waited = time.monotonic() - start
        if condition():
            return True, waited
        if waited > within:
            return False, waited
        time.sleep(0.02)
