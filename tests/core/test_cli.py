"""The ``bsc-cache`` command line: info, clear and calibrate, on real directories and files."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from binary_semantic_cache import BinaryEncoder, BinarySemanticCache
from binary_semantic_cache.calibrate import calibrate
from binary_semantic_cache.cli import main
from binary_semantic_cache.guards import PrecisionGuards
from tests.doubles import LABELLED_PAIRS

PAIRS = LABELLED_PAIRS


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    path = tmp_path / "cache"
    vectors = np.random.default_rng(0).standard_normal((3, 16)).astype(np.float32)
    with BinarySemanticCache(BinaryEncoder(16), max_entries=50, path=path) as cache:
        cache.put(vectors[0], "a", partition="one")
        cache.put_batch(vectors[1:], ["b", "c"], partition="two")
        assert cache.get(vectors[0], partition="one") is not None
    return path


def _write_pairs(path: Path, rows: list[tuple[str, str, bool]]) -> Path:
    lines = "".join(json.dumps({"a": a, "b": b, "label": int(same)}) + "\n" for a, b, same in rows)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(lines.encode()))
    else:
        path.write_text(lines)
    return path


def test_info_reports_entries_settings_and_counters(
    cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["info", str(cache_dir), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["entries"], report["max_entries"], report["partitions"]) == (3, 50, 2)
    assert (report["embedding_dim"], report["code_bits"], report["seed"]) == (16, 256, 1)
    assert report["counters"]["inserts"] == 3
    assert "entries" not in report["counters"]
    assert report["counters"]["hits"] == 1
    assert report["response_bytes"] > 0
    assert set(report["files"]) >= {"snapshot.bsc", "log.bsc"}

    assert main(["info", str(cache_dir)]) == 0
    text = capsys.readouterr().out
    assert "entries               3\n" in text
    assert "max_entries           50\n" in text


def test_info_reads_beside_a_running_writer(
    cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with BinarySemanticCache(path=cache_dir) as writer:
        writer.put(np.ones(16, dtype=np.float32), "d")
        writer.flush()
        assert main(["info", str(cache_dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["entries"] == 4


def test_info_reads_a_new_cache_that_was_never_saved(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with BinarySemanticCache(BinaryEncoder(8), path=tmp_path / "new") as writer:
        writer.put(np.ones(8, dtype=np.float32), "x")
        writer.flush()
        assert not (tmp_path / "new" / "snapshot.bsc").exists()
        assert main(["info", str(tmp_path / "new"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["entries"] == 1


def test_info_on_a_directory_that_is_no_cache_fails_and_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["info", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert str(tmp_path) in err
    assert "expected a cache directory (holding log.bsc or snapshot.bsc), found none" in err


def test_info_on_a_damaged_snapshot_fails_and_changes_nothing(
    cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshot = cache_dir / "snapshot.bsc"
    damaged = bytearray(snapshot.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    snapshot.write_bytes(bytes(damaged))
    assert main(["info", str(cache_dir)]) == 1
    assert "bsc-cache info: error:" in capsys.readouterr().err
    assert snapshot.read_bytes() == bytes(damaged)


def test_clear_forgets_the_entries_and_keeps_the_settings(
    cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["clear", str(cache_dir)]) == 0
    assert capsys.readouterr().out == f"removed 3 entries from {cache_dir}\n"
    with BinarySemanticCache(path=cache_dir, read_only=True) as cache:
        assert (len(cache), cache.max_entries, cache.encoder.embedding_dim) == (0, 50, 16)


def test_clear_while_another_process_writes_fails_and_keeps_the_entries(
    cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with BinarySemanticCache(path=cache_dir):
        assert main(["clear", str(cache_dir)]) == 1
    assert "bsc-cache clear: error:" in capsys.readouterr().err
    with BinarySemanticCache(path=cache_dir, read_only=True) as cache:
        assert len(cache) == 3


@pytest.mark.parametrize("name", ["pairs.jsonl", "pairs.jsonl.gz"])
def test_calibrate_prints_what_calibrate_finds(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pairs = _write_pairs(tmp_path / name, PAIRS)
    assert main(["calibrate", str(pairs), "--target-precision", "0.9"]) == 0
    out = capsys.readouterr().out
    expected = calibrate(PAIRS, target_precision=0.9, guards=PrecisionGuards())
    assert f"similarity_threshold  {expected.threshold:.4f}\n" in out
    assert f"hit rate              {expected.hit_rate:.2%} of 3 duplicates\n" in out


def test_calibrate_without_guards_scores_as_a_cache_without_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pairs = _write_pairs(tmp_path / "pairs.jsonl", PAIRS)
    assert main(["calibrate", str(pairs), "--no-guards", "--target-precision", "0.9"]) == 0
    expected = calibrate(PAIRS, target_precision=0.9)
    assert f"similarity_threshold  {expected.threshold:.4f}\n" in capsys.readouterr().out


def test_calibrate_writes_a_verifier_model_that_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from binary_semantic_cache.verifier import DefaultVerifier

    pairs = _write_pairs(tmp_path / "pairs.jsonl", PAIRS)
    out = tmp_path / "verifier.json"
    argv = ["calibrate", str(pairs), "--target-precision", "0.9", "--verifier-out", str(out)]
    assert main(argv) == 0
    assert f"verifier model        {out}\n" in capsys.readouterr().out
    verifier = DefaultVerifier.from_file(out)
    assert verifier.model.provenance["fitted_on"] == "calibrate_verifier"
    assert verifier.model.provenance["pairs"] == len(PAIRS)
    assert 0.0 <= verifier.score(PAIRS[0][0], PAIRS[0][1]) <= 1.0


@pytest.mark.parametrize(
    "bad_line",
    [
        '{"a": "x", "b": "y"}',
        '{"a": "x", "b": "y", "label": "yes"}',
        '{"a": 1, "b": "y", "label": 1}',
        "not json",
        '["x", "y", 1]',
    ],
)
def test_calibrate_names_the_line_it_cannot_read(
    tmp_path: Path, bad_line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pairs = _write_pairs(tmp_path / "pairs.jsonl", PAIRS[:2])
    pairs.write_text(pairs.read_text() + bad_line + "\n")
    assert main(["calibrate", str(pairs)]) == 1
    err = capsys.readouterr().err
    assert f'{pairs}:3: expected {{"a": str, "b": str, "label": 0 or 1}}' in err


@pytest.mark.parametrize("embedder", ["openai", "ollama:", "cohere:embed", "default:x"])
def test_calibrate_refuses_an_unknown_embedder(
    tmp_path: Path, embedder: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pairs = _write_pairs(tmp_path / "pairs.jsonl", PAIRS)
    assert main(["calibrate", str(pairs), "--embedder", embedder]) == 1
    err = capsys.readouterr().err
    assert f"--embedder must be default, openai:MODEL or ollama:MODEL, got {embedder!r}" in err


def test_a_missing_pairs_file_is_an_error_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["calibrate", str(tmp_path / "none.jsonl")]) == 1
    assert "none.jsonl" in capsys.readouterr().err


def test_the_installed_command_and_python_m_run_it(cache_dir: Path) -> None:
    script = Path(sys.executable).parent / "bsc-cache"
    for command in ([str(script)], [sys.executable, "-m", "binary_semantic_cache"]):
        done = subprocess.run(
            [*command, "info", str(cache_dir), "--json"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["entries"] == 3
    usage = subprocess.run([str(script)], capture_output=True, text=True, check=False)
    assert usage.returncode == 2
    assert "usage: bsc-cache" in usage.stderr
