"""Repair of a damaged directory (``repair`` and ``bsc-cache repair``): every entry whose
checksums hold is kept, the lost record is reported by its bytes, the damaged files are kept."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from binary_semantic_cache import BinaryEncoder, BinarySemanticCache, CorruptCacheError, repair
from binary_semantic_cache.cli import main

DIM = 16
LOG_HEADER = 80
RECORD_HEAD = 12


def record_starts(log: bytes) -> list[int]:
    starts, pos = [], LOG_HEADER
    while pos < len(log):
        starts.append(pos)
        pos += RECORD_HEAD + int.from_bytes(log[pos : pos + 4], "little")
    return starts


Entry = tuple[int, str, npt.NDArray[np.float32]]


def sound(tmp_path: Path) -> tuple[Path, list[Entry], list[int]]:
    """200 entries in the snapshot, 100 flushed to the log. Returns the directory, the entries
    (id, partition, vector) and where each record of the log starts."""
    xs = np.random.default_rng(11).standard_normal((300, DIM)).astype(np.float32)
    source, path = tmp_path / "source", tmp_path / "cache"
    entries = []
    with BinarySemanticCache(BinaryEncoder(DIM), path=source, durability="manual") as cache:
        for i, x in enumerate(xs):
            entries.append((cache.put(x, f"answer {i}", partition=f"p{i % 3}"), f"p{i % 3}", x))
            if i == 199:
                cache.save()
        cache.flush()
        path.mkdir(mode=0o700)
        for name in ("snapshot.bsc", "log.bsc"):
            shutil.copy(source / name, path / name)
    starts = record_starts((path / "log.bsc").read_bytes())
    assert len(starts) == 100
    return path, entries, starts


@pytest.fixture
def damaged(tmp_path: Path) -> tuple[Path, list[Entry], list[int]]:
    """Issue 15's case: the high byte of record 11's length flipped."""
    path, entries, starts = sound(tmp_path)
    log = bytearray((path / "log.bsc").read_bytes())
    log[starts[10] + 3] ^= 0xFF
    (path / "log.bsc").write_bytes(bytes(log))
    return path, entries, starts


def test_a_damaged_record_is_refused_and_repair_keeps_the_other_299(damaged) -> None:
    path, entries, starts = damaged
    lost_id = entries[210][0]  # record 11 of the log puts entry 211
    original_log = (path / "log.bsc").read_bytes()
    with pytest.raises(CorruptCacheError, match=rf"log\.bsc at offset {starts[10]}: record 11: "):
        BinarySemanticCache(path=path)
    assert (path / "log.bsc").read_bytes() == original_log

    report = repair(path)
    assert report.damage is not None and "record 11" in report.damage
    assert (report.entries, report.snapshot_entries, report.log_records) == (299, 200, 99)
    assert report.lost_records == 1
    assert report.lost_ranges == [("log.bsc", starts[10], starts[11])]
    assert report.moved_to is not None and report.moved_to.parent == path
    assert (report.moved_to / "log.bsc").read_bytes() == original_log

    with BinarySemanticCache(path=path, read_only=True) as repaired:
        assert len(repaired) == 299
        for id_, partition, x in entries:
            hit = repaired.get(x, partition=partition)
            assert (hit is not None and hit.id == id_) == (id_ != lost_id)
    # The repaired directory is sound: repairing again changes nothing.
    again = repair(path)
    assert (again.damage, again.entries, again.moved_to) == (None, 299, None)


def test_a_damaged_snapshot_is_lost_whole_and_the_log_after_it_is_kept(tmp_path: Path) -> None:
    path, entries, _ = sound(tmp_path)
    snapshot = bytearray((path / "snapshot.bsc").read_bytes())
    snapshot[len(snapshot) // 2] ^= 0x01
    (path / "snapshot.bsc").write_bytes(bytes(snapshot))
    report = repair(path)
    assert (report.entries, report.snapshot_entries, report.log_records) == (100, 0, 100)
    assert (report.lost_records, report.lost_ranges) == (0, [("snapshot.bsc", 0, len(snapshot))])
    assert report.moved_to is not None
    assert (report.moved_to / "snapshot.bsc").read_bytes() == bytes(snapshot)
    with BinarySemanticCache(path=path, read_only=True) as repaired:
        assert sorted(repaired.ids()) == sorted(id_ for id_, _, _ in entries[200:])


def test_info_says_a_damaged_directory_needs_repair_and_the_command_repairs_it(
    damaged, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _, _ = damaged
    assert main(["info", str(path)]) == 1
    assert f"needs repair: bsc-cache repair {path}" in capsys.readouterr().err
    assert main(["repair", str(path)]) == 0
    out = capsys.readouterr().out
    assert "200 snapshot entries, 99 log records: 299 entries now" in out
    assert "lost                  1 log records" in out
    assert "lost bytes            log.bsc " in out
    assert main(["info", str(path)]) == 0
    assert main(["repair", str(path)]) == 0
    assert "nothing changed" in capsys.readouterr().out
