# Everything a fresh machine with Python 3.11 and make needs: `make demo`, `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint report-check bench bench-lake bench-ray bench-hunt bench-tail bench-hostile bench-eval sample-logs clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (or run: make PYTHON=python3)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,bench,ray]"
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/detector demo

# Two workers, each taking whole test files (module fixtures: moto servers, Ray clusters).
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

report-check: $(STAMP)
	BIN=$(BIN) scripts/report_check.sh

bench: $(STAMP)
	$(BIN)/python bench/ingest_bench.py

bench-lake: $(STAMP)
	$(BIN)/python bench/lake_format_bench.py --rounds 3

bench-ray: $(STAMP)
	$(BIN)/python bench/ray_bench.py

bench-hunt: $(STAMP)
	$(BIN)/python bench/hunt_bench.py

bench-tail: $(STAMP)
	$(BIN)/python bench/tail_bench.py

bench-hostile: $(STAMP)
	$(BIN)/python bench/hostile_bench.py

bench-eval: $(STAMP)
	$(BIN)/python bench/eval_worlds.py --seeds evaluation

sample-logs: $(STAMP)
	$(BIN)/python sample_logs/generate.py --out sample_logs

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
