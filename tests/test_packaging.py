"""The wheel a user installs from PyPI: built from this checkout, installed into a fresh virtual
environment, it carries the extension, the tokenizer, the type markers and the command."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Run inside the fresh environment: every module must come from it, not from this checkout.
PROBE = """
import json, sys
import binary_semantic_cache, binary_semantic_cache._core, bsc_langchain, bsc_llamaindex
from binary_semantic_cache.embeddings import DefaultEmbedder
vector = DefaultEmbedder().embed_text("What is the capital of France?")
print(json.dumps({
    "files": [m.__file__ for m in (binary_semantic_cache._core, bsc_langchain, bsc_llamaindex)],
    "dim": len(vector),
}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
        check=True,
    )
    (built,) = out.glob("bsc_cache-*.whl")
    return built


def test_the_wheel_holds_what_the_packages_need_at_run_time(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert any(n.startswith("binary_semantic_cache/_core") and n.endswith(".so") for n in names)
    assert "binary_semantic_cache/embeddings/data/all-MiniLM-L6-v2.tokenizer.json" in names
    for package in ("binary_semantic_cache", "bsc_langchain", "bsc_llamaindex"):
        assert f"{package}/py.typed" in names
    assert not any(n.startswith(("tests/", "benchmarks/", "notebooks/")) for n in names)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "bsc-cache=binary_semantic_cache.cli:main" in text.replace(" ", "")


def test_installed_alone_it_embeds_offline_and_runs_its_command(
    wheel: Path, tmp_path: Path
) -> None:
    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)], check=True
    )
    # The dependencies come from this environment's site-packages, appended after the new
    # environment's own, so the package itself is found in the new one first.
    site = Path(sysconfig.get_paths()["purelib"])
    new_site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (new_site / "dependencies.pth").write_text(f"{site}\n")
    done = subprocess.run(
        [str(python), "-c", PROBE], capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["dim"] == 384
    assert all(f.startswith(str(new_site)) for f in report["files"]), report["files"]
    command = subprocess.run(
        [str(env_dir / "bin" / "bsc-cache"), "--help"], capture_output=True, text=True, check=False
    )
    assert command.returncode == 0, command.stderr
    assert "calibrate" in command.stdout
