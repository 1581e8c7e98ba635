# The one list of tasks. The README's two commands are `make demo` (set up, then the main job)
# and `make test` (CI runs it through .ci/run).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
BENCH_VENV := .bench-venv
FUZZ_SECONDS ?= 20

.PHONY: setup demo serve-demo test test-rust test-python lint fuzz redis-server bench-setup bench notebooks clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Builds the Rust extension in release mode and installs the packages with every extra.
setup: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"

# The main job: a LangChain workload through the cache with the default offline embedder.
demo: setup
	$(BIN)/python -m bsc_langchain.demo

# The caching server (bsc-cache serve) in front of a local fake upstream, driven by the openai client.
serve-demo: setup
	$(BIN)/python -m binary_semantic_cache.server.demo

test: setup redis-server lint test-rust fuzz test-python

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

# The loader fuzz target, for a bounded time.
fuzz: setup
	$(BIN)/python fuzz/fuzz_loader.py -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1

# The Redis tests start their own server; this installs it from Debian's packages when missing.
# redis-cli (redis-tools) creates the Redis Cluster of tests/redis/test_cluster.py.
redis-server:
	@command -v redis-server >/dev/null && command -v redis-cli >/dev/null || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			redis-server redis-tools; }

notebooks: setup
	$(BIN)/python -m pytest tests/test_notebooks.py

# Peers are installed into their own environments under $(BENCH_VENV), never into the package's
# dependencies; binary-semantic-cache 1.0.1 takes the same import name as this package.
bench-setup: setup redis-server
	test -x $(BENCH_VENV)/bsc101/bin/python || $(PYTHON) -m venv $(BENCH_VENV)/bsc101
	$(BENCH_VENV)/bsc101/bin/pip install --quiet "binary-semantic-cache==1.0.1" numpy
	test -x $(BENCH_VENV)/gptcache/bin/python || $(PYTHON) -m venv $(BENCH_VENV)/gptcache
	$(BENCH_VENV)/gptcache/bin/pip install --quiet "gptcache==0.1.44" "faiss-cpu==1.15.1" \
		"SQLAlchemy==2.1.9" numpy

# Every script prints its figures; results.py then writes the README's results section.
bench: setup
	$(BIN)/python benchmarks/core.py
	$(BIN)/python benchmarks/batch.py
	$(BIN)/python benchmarks/scale.py
	$(BIN)/python benchmarks/persist.py
	$(BIN)/python benchmarks/quality.py
	$(BIN)/python benchmarks/peers.py
	$(BIN)/python benchmarks/embedders.py
	$(BIN)/python benchmarks/langchain_overhead.py
	$(BIN)/python benchmarks/engine_overhead.py
	$(BIN)/python benchmarks/burst.py
	$(BIN)/python benchmarks/redis_shared.py
	$(BIN)/python benchmarks/results.py

clean:
	rm -rf target $(VENV) $(BENCH_VENV)
