"""Fixtures shared by every test package: the labelled QQP pairs in ../shared/data."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

QQP_PATH = Path(__file__).resolve().parents[2] / "shared" / "data" / "qqp-dev.jsonl.gz"


@pytest.fixture(scope="session")
def qqp_path() -> Path:
    """The shared QQP file; its absence fails the tests that need it (it is never copied here)."""
    if not QQP_PATH.exists():
        pytest.fail(
            f"QQP data not found at {QQP_PATH}: these tests read ../shared/data/qqp-dev.jsonl.gz "
            "beside the repository (see ../shared/data/README.md); it is never copied into it."
        )
    return QQP_PATH


@pytest.fixture(scope="session")
def qqp_sample(qqp_path: Path) -> list[tuple[str, str, bool]]:
    """The first 600 labelled pairs."""
    rows = []
    with gzip.open(qqp_path, "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            rows.append((row["a"], row["b"], bool(row["label"])))
            if len(rows) == 600:
                break
    return rows
