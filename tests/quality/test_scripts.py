"""Smoke tests: benchmarks/quality.py on a small QQP sample, results.py on its output, batch.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, cwd=ROOT, timeout=600
    )


def write_speed_outputs(results: Path) -> None:
    """Stand-ins for what core.py, persist.py, batch.py and scale.py write (their real runs take
    minutes)."""
    (results / "core.md").write_text("# today, a machine\n\n## dim 8, N = 10\n")
    (results / "persist.md").write_text("# today, a machine\n\n## N = 20\n")
    (results / "batch-1000000.md").write_text("# today, a machine\n\n## N = 30, batches\n")
    (results / "scale-10000000.md").write_text("# today, a machine\n\n## N = 40, scale\n")


def test_quality_script_on_a_sample_then_results_section(qqp_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "quality.md"
    proc = run(
        "benchmarks/quality.py", "--data", str(qqp_path), "--limit", "400", "--out", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    for line in (
        "## pairs: best F1 per method",
        " binary 256 + rescore |",
        "## cache: 400 first questions stored, 400 second questions looked up",
        "## guards (pairs, binary 256 at",
        "- 256-bit binary best F1",
        "- re-scoring (core, top 32 candidates) agrees with float cosine on",
        "recommended default similarity_threshold:",
        " binary 256 + guards + verifier |",
        " binary 256 + guards + bound 0.02 |",
        "## pairs: at the threshold to use with the verifier,",
        " ask |",
        "## acceptance (issue 17: verifier and error-bounded mode)",
        "- held-out half, cache protocol, defaults (threshold",
        "- max_wrong_rate 0.05, held-out half, pairs protocol: wrong hits",
        "- verifier cost, ",
    ):
        assert line in proc.stdout
    assert out.read_text().startswith("# answer quality, ")

    (tmp_path / "peers.md").write_text("# peers, today, a machine\n\n### N = 10 entries\n")
    write_speed_outputs(tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- results:start -->\nSTALE TEXT\n<!-- results:end -->\nafter\n")
    proc = run("benchmarks/results.py", "--readme", str(readme), "--results", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    text = readme.read_text()
    assert text.startswith("intro\n<!-- results:start -->\n## Results")
    assert text.endswith("<!-- results:end -->\nafter\n") and "STALE TEXT" not in text
    assert "#### pairs: best F1 per method" in text and "### N = 10 entries" in text
    assert "#### dim 8, N = 10" in text and "#### N = 20" in text
    assert "#### N = 30, batches" in text and "#### N = 40, scale" in text


def test_batch_script_answers_as_single_gets(tmp_path: Path) -> None:
    out = tmp_path / "batch.md"
    # Answers only: speed against faiss means nothing at a toy size.
    no_faiss = str(tmp_path / "no-faiss")
    args = ["--n", "3000", "--queries", "150", "--faiss-python", no_faiss, "--out", str(out)]
    proc = run("benchmarks/batch.py", *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASS  every batch answers as single gets" in proc.stdout
    assert "near-duplicates: 150/150 hits" in proc.stdout
    assert "random misses: 0/150 hits" in proc.stdout
    assert out.read_text().startswith("# ")


def test_scale_script_compares_every_mode_with_the_scan(qqp_path: Path, tmp_path: Path) -> None:
    # A toy size, below where the index switches on: this checks the script, not the index
    # (crates/bsc-core/tests/mih.rs does).
    out = tmp_path / "scale.md"
    args = ["--n", "20000", "--queries", "20", "--pairs", "50", "--out", str(out)]
    proc = run("benchmarks/scale.py", *args, "--faiss-python", str(tmp_path / "no-faiss"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASS  exact index: every flat-scan hit found" in proc.stdout
    assert "approx recall of flat-scan hits: near-duplicates 1.000" in proc.stdout
    assert "| near-duplicates  | flat hits     |     20/20    |     20/20    |" in proc.stdout
    assert out.read_text().startswith("# ")


def test_results_script_without_markers_prints_the_section(tmp_path: Path) -> None:
    (tmp_path / "quality.md").write_text("# answer quality, today, a machine\n## x\n")
    (tmp_path / "peers.md").write_text("# peers, today, a machine\n")
    write_speed_outputs(tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text("no markers here\n")
    proc = run("benchmarks/results.py", "--readme", str(readme), "--results", str(tmp_path))
    assert proc.returncode == 1
    assert "has no <!-- results:start --> ... <!-- results:end --> markers" in proc.stderr
    assert "## Results" in proc.stdout
    assert readme.read_text() == "no markers here\n"


def test_quality_script_says_when_the_data_is_missing(tmp_path: Path) -> None:
    proc = run("benchmarks/quality.py", "--data", str(tmp_path / "absent.jsonl.gz"))
    assert proc.returncode != 0
    assert "QQP data not found at" in proc.stderr
