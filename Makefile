# The one list of tasks. CI runs `make test` (see .ci/run); the README's two commands are
# `make demo` (set up, then the main job) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
BENCH_VENV := .bench-venv

.PHONY: setup demo test test-rust test-python lint bench-setup bench notebooks clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Builds the Rust extension in release mode and installs the packages with every extra.
setup: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"

demo: setup
	$(BIN)/python -m binary_semantic_cache.demo

test: setup lint test-rust test-python

test-rust:
	cargo test --workspace --exclude bsc-py

test-python:
	$(BIN)/python -m pytest

lint: setup
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m mypy.stubtest binary_semantic_cache._core

# Peers are installed into their own environments under $(BENCH_VENV), never into the package's
# dependencies; binary-semantic-cache 1.0.1 takes the same import name as this package.
bench-setup: setup
	test -x $(BENCH_VENV)/bsc101/bin/python || $(PYTHON) -m venv $(BENCH_VENV)/bsc101
	$(BENCH_VENV)/bsc101/bin/pip install --quiet "binary-semantic-cache==1.0.1" numpy

bench: setup
	$(BIN)/python benchmarks/core.py
	$(BIN)/python benchmarks/embedders.py

clean:
	rm -rf target $(VENV) $(BENCH_VENV)
