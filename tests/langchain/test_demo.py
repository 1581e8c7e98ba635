"""The main job runs offline and reports what it measured."""

from __future__ import annotations

import re

import pytest

from bsc_langchain.demo import main, workload
from bsc_langchain.demo_data import GROUPS, NEAR_MISSES


def test_the_workload_asks_every_question_before_its_rewordings() -> None:
    asks, answers = workload(seed=0)
    assert [a.question for a in asks[: len(GROUPS)]] == [g.question for g in GROUPS]
    later = {a.question for a in asks[len(GROUPS) :]}
    assert {p for g in GROUPS for p in g.paraphrases} <= later
    assert {g.question for g in NEAR_MISSES} <= later
    assert all(a.answer_key in answers for a in asks)


def test_the_demo_prints_a_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--min-delay", "0", "--max-delay", "0.001", "--no-progress"]) == 0
    out = capsys.readouterr().out
    counts = {
        name: int(re.search(rf"{name}\s+(\d+)", out).group(1))  # type: ignore[union-attr]
        for name in ("calls", "exact hits", "semantic hits", "wrong hits", "model calls saved")
    }
    misses = int(re.search(r"model calls \(misses\)\s+(\d+)", out).group(1))  # type: ignore[union-attr]
    assert counts["exact hits"] > 0 and counts["semantic hits"] > 0
    assert misses + counts["exact hits"] + counts["semantic hits"] == counts["calls"]
    assert counts["model calls saved"] == counts["exact hits"] + counts["semantic hits"]
    assert counts["wrong hits"] == 0
    refusals = int(re.search(r"guard refusals\s+(\d+)", out).group(1))  # type: ignore[union-attr]
    assert refusals >= 3  # the near misses worded above the threshold
    assert "cost saved" in out and "p50 latency, semantic hit" in out
    streamed = re.search(r"streamed calls\s+(\d+)\s+\((\d+) of them answered", out)
    assert streamed is not None
    assert int(streamed.group(1)) == counts["calls"] // 3 and int(streamed.group(2)) > 0
