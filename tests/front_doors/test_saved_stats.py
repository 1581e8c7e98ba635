"""A directory keeps its front doors' stats across sessions, and `bsc-cache info` shows them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from binary_semantic_cache.cli import main
from binary_semantic_cache.stats_file import STATS_FILE, read_saved
from tests.front_doors.conftest import FrontDoor

STORED, PARAPHRASE = "How do I reset my password?", "How can I reset my password?"


def test_every_session_is_added_up(
    front_door: Callable[..., FrontDoor], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(2):
        door = front_door(path=tmp_path)
        door.ask(STORED)
        door.ask(PARAPHRASE)
        door.close()
        door.close()  # idempotent: counted once
    saved = read_saved(tmp_path)
    assert saved is not None
    # First session: a miss and a semantic hit; second: an exact and a semantic hit.
    assert (saved.lookups, saved.hits, saved.exact_hits, saved.misses) == (4, 3, 1, 1)
    assert saved.latency["search"].count >= 2
    assert (tmp_path / STATS_FILE).stat().st_mode & 0o077 == 0
    assert main(["info", str(tmp_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["front_door_stats"]["hits"] == 3
    assert main(["info", str(tmp_path)]) == 0
    assert "front doors           4 lookups, 3 hits (1 exact, 2 semantic" in capsys.readouterr().out


def test_a_damaged_stats_file_is_reported_and_restarted(
    front_door: Callable[..., FrontDoor], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    door = front_door(path=tmp_path)
    door.ask(STORED)
    door.close()
    (tmp_path / STATS_FILE).write_text('{"v": 99}')
    assert main(["info", str(tmp_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert "expected front-door stats of version 1" in report["front_door_stats_error"]
    assert report["entries"] == 1  # the cache itself is shown as ever
    again = front_door(path=tmp_path)
    again.ask(STORED)
    again.close()
    saved = read_saved(tmp_path)
    assert saved is not None and (saved.lookups, saved.exact_hits) == (1, 1)
