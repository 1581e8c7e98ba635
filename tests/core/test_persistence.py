"""Persistence through the Python API: round trips, the golden directory, locking, read-only
opening, bad arguments, and a write failure from a full disk."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from binary_semantic_cache import BinaryEncoder, BinarySemanticCache

from .conftest import DIM, unit

DATA = Path(__file__).resolve().parent.parent / "data"
GOLDEN = DATA / "golden-v2"  # the newest format
RESPONSES = ["text", b"\x00bytes", {"a": [1, 2.5, None]}, [True, "x"], 7, None]


def test_responses_partitions_and_stats_survive_close_and_reopen(tmp_path: Path, rng) -> None:
    xs = unit(rng, len(RESPONSES))
    with BinarySemanticCache(BinaryEncoder(DIM), path=tmp_path / "c") as cache:
        ids = [
            cache.put(x, r, partition=f"p{i % 2}")
            for i, (x, r) in enumerate(zip(xs, RESPONSES, strict=True))
        ]
        assert cache.get(xs[0], partition="p0") is not None
        stats = cache.stats()
    reopened = BinarySemanticCache(path=tmp_path / "c")
    assert reopened.encoder.embedding_dim == DIM
    for i, (x, r) in enumerate(zip(xs, RESPONSES, strict=True)):
        hit = reopened.get(x, partition=f"p{i % 2}")
        assert hit is not None and hit.response == r and hit.id == ids[i]
        assert reopened.get(x, partition=f"p{(i + 1) % 2}") is None
    assert reopened.stats()["inserts"] == stats["inserts"]
    assert reopened.stats()["hits"] == stats["hits"] + len(RESPONSES)


def test_unsaved_changes_survive_a_process_that_dies(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import os, numpy as np
        from binary_semantic_cache import BinaryEncoder, BinarySemanticCache
        cache = BinarySemanticCache(BinaryEncoder({DIM}), path={str(tmp_path / "c")!r},
                                    durability="always")
        for i in range(20):
            cache.put(np.random.default_rng(i).standard_normal({DIM}), i)
        os._exit(0)  # no close, no save: only the log holds the entries
    """)
    subprocess.run([sys.executable, "-c", script], check=True)
    cache = BinarySemanticCache(path=tmp_path / "c")
    assert len(cache) == 20
    for i in range(20):
        hit = cache.get(np.random.default_rng(i).standard_normal(DIM))
        assert hit is not None and hit.response == i


@pytest.mark.parametrize("version", [1, 2])
def test_golden_directory_keeps_loading(tmp_path: Path, version: int) -> None:
    golden = DATA / f"golden-v{version}"
    sys.path.insert(0, str(DATA))
    try:
        import make_golden
    finally:
        sys.path.remove(str(DATA))
    cache = BinarySemanticCache(path=golden, read_only=True, rescore=True)
    assert len(cache) == len(make_golden.ENTRIES)
    for v, (partition, response) in zip(make_golden.vectors(), make_golden.ENTRIES, strict=True):
        hit = cache.get(v, partition=partition)
        assert hit is not None and hit.response == response
    # A writer may open a copy of it and carry on; it leaves the directory in the newest format.
    copy = tmp_path / "golden"
    shutil.copytree(golden, copy)
    copy.chmod(0o700)  # as the cache makes its directories (a checkout's is 0755: a warning)
    with BinarySemanticCache(path=copy) as writer:
        writer.put(make_golden.vectors()[0] * -1, "new")
    for name in ("snapshot.bsc", "log.bsc"):
        assert (copy / name).read_bytes()[8:12] == (2).to_bytes(4, "little"), name
    assert len(BinarySemanticCache(path=copy, read_only=True)) == len(make_golden.ENTRIES) + 1


def test_entries_that_expired_while_closed_are_neither_counted_nor_served(
    tmp_path: Path, rng
) -> None:
    xs = unit(rng, 3)
    with BinarySemanticCache(BinaryEncoder(DIM), path=tmp_path / "c") as cache:
        cache.put(xs[0], "short", ttl_seconds=0.2)
        cache.put(xs[1], "long", ttl_seconds=3600)
        cache.put(xs[2], "forever")
    time.sleep(0.3)
    for read_only in (True, False, True):
        with BinarySemanticCache(path=tmp_path / "c", read_only=read_only) as reopened:
            assert len(reopened) == 2
            assert reopened.get(xs[0]) is None
            hits = [reopened.get(x) for x in xs[1:]]
            assert [h.response if h else None for h in hits] == ["long", "forever"]


def test_one_writer_and_read_only_readers(tmp_path: Path, rng) -> None:
    writer = BinarySemanticCache(BinaryEncoder(DIM), path=tmp_path / "c", durability="manual")
    writer.put(unit(rng, 1)[0], "x")
    writer.flush()
    with pytest.raises(OSError, match="already open for writing"):
        BinarySemanticCache(path=tmp_path / "c")
    reader = BinarySemanticCache(path=tmp_path / "c", read_only=True)
    assert len(reader) == 1
    with pytest.raises(PermissionError, match="opened read-only"):
        reader.put(unit(rng, 1)[0], "y")
    writer.close()
    with pytest.raises(ValueError, match="the cache is closed"):
        writer.get(unit(rng, 1)[0])
    BinarySemanticCache(path=tmp_path / "c").close()  # the lock went with close()


def test_files_are_private(tmp_path: Path, rng) -> None:
    with BinarySemanticCache(BinaryEncoder(DIM), path=tmp_path / "c") as cache:
        cache.put(unit(rng, 1)[0], "x")
    assert (tmp_path / "c").stat().st_mode & 0o777 == 0o700
    for f in (tmp_path / "c").iterdir():
        assert f.stat().st_mode & 0o777 == 0o600, f


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"durability": "sometimes"}, ValueError, "durability must be 'always', 'interval'"),
        ({"flush_interval_seconds": 0}, ValueError, "flush_interval_seconds must be"),
        (
            {"encoder": BinaryEncoder(DIM + 1)},
            ValueError,
            f"embedding_dim={DIM}, code_bits=256, seed=1; got embedding_dim={DIM + 1}",
        ),
        ({"encoder": None, "rescore": True}, ValueError, "without re-scoring vectors"),
    ],
)
def test_bad_persistence_arguments(tmp_path: Path, rng, kwargs, error, message) -> None:
    path = tmp_path / "c"
    with BinarySemanticCache(BinaryEncoder(DIM), path=path) as cache:
        cache.put(unit(rng, 1)[0], "kept")
    with pytest.raises(error, match=message):
        BinarySemanticCache(path=path, **kwargs)
    assert len(BinarySemanticCache(path=path, read_only=True)) == 1


def test_reopening_keeps_max_entries_unless_given(tmp_path: Path, rng) -> None:
    xs = unit(rng, 30)
    with BinarySemanticCache(BinaryEncoder(DIM), max_entries=25, path=tmp_path / "c") as cache:
        cache.put_batch(xs[:25], list(range(25)))
    with BinarySemanticCache(path=tmp_path / "c") as cache:
        assert (cache.max_entries, len(cache)) == (25, 25)
    with BinarySemanticCache(path=tmp_path / "c", max_entries=10) as cache:
        assert (cache.max_entries, len(cache)) == (10, 10)  # a smaller bound applies at once
        assert cache.stats()["evictions"] == 15
    assert BinarySemanticCache(path=tmp_path / "c", read_only=True).max_entries == 10


def test_no_encoder_and_no_cache(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="holds no cache yet; give an encoder"):
        BinarySemanticCache(path=tmp_path / "empty")
    with pytest.raises(ValueError, match="an encoder is required"):
        BinarySemanticCache()


def test_damaged_file_raises_corrupt_cache_error(tmp_path: Path) -> None:
    from binary_semantic_cache import CorruptCacheError, UnsupportedFormatError

    copy = tmp_path / "g"
    shutil.copytree(GOLDEN, copy)
    snapshot = copy / "snapshot.bsc"
    data = bytearray(snapshot.read_bytes())
    data[200] ^= 0xFF
    snapshot.write_bytes(bytes(data))
    with pytest.raises(CorruptCacheError, match=r"snapshot\.bsc at offset"):
        BinarySemanticCache(path=copy, read_only=True)
    data[200] ^= 0xFF
    data[8:12] = (9).to_bytes(4, "little")
    snapshot.write_bytes(bytes(data))
    with pytest.raises(UnsupportedFormatError, match="format version 9"):
        BinarySemanticCache(path=copy, read_only=True)


def test_a_full_disk_raises_oserror_and_keeps_the_last_good_state(tmp_path: Path) -> None:
    """RLIMIT_FSIZE makes the kernel refuse writes past a size, as a full disk does."""
    path = tmp_path / "c"
    script = textwrap.dedent(f"""
        import resource, signal, numpy as np
        from binary_semantic_cache import BinaryEncoder, BinarySemanticCache
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        cache = BinarySemanticCache(BinaryEncoder({DIM}), path={str(path)!r}, durability="always")
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        stored = 0
        for i in range(1000):
            v = np.random.default_rng(i).standard_normal({DIM})
            try:
                cache.put(v, "x" * 100 + str(i))
            except OSError as e:
                print("failed-at", i, e.errno, flush=True)
                break
            stored += 1
        # Still serving from memory, the failed entry included.
        assert cache.get(np.random.default_rng(0).standard_normal({DIM})) is not None
        print("stored", stored, flush=True)
        import os; os._exit(0)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    lines = dict(line.split(" ", 1) for line in out.stdout.splitlines())
    assert "failed-at" in lines, out.stdout
    assert int(lines["failed-at"].split()[1]) == 27  # EFBIG
    stored = int(lines["stored"])
    assert 0 < stored < 1000
    cache = BinarySemanticCache(path=path, read_only=True)
    assert len(cache) == stored
    for i in range(stored):
        hit = cache.get(np.random.default_rng(i).standard_normal(DIM))
        assert hit is not None and hit.response == "x" * 100 + str(i)


def test_interval_durability_flushes_in_the_background(tmp_path: Path, rng) -> None:
    import time

    cache = BinarySemanticCache(
        BinaryEncoder(DIM), path=tmp_path / "c", flush_interval_seconds=0.05
    )
    cache.put(unit(rng, 1)[0], "x")
    size = lambda: (tmp_path / "c" / "log.bsc").stat().st_size  # noqa: E731
    empty = 52  # the log header
    deadline = time.monotonic() + 5
    while size() == empty and time.monotonic() < deadline:
        time.sleep(0.02)
    assert size() > empty
    del cache
    assert os.path.exists(tmp_path / "c" / "snapshot.bsc") is False  # nothing forced a snapshot
