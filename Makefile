# Set-up and entry points. `make book` and `make test` are all a new machine needs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install book test test-fast bench cpu-runs smoke-runs clean-book

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(BIN)/python -m pip install --quiet -e '.[metrics,report,test]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	@rm -f $(VENV)/.installed-* && touch $@

# Build the report from stored outputs (no notebook is executed): HTML in _build/html.
book: install
	$(BIN)/jupyter-book build . -W -n --keep-going

# The whole test suite: unit tests and the notebooks, compared with their stored outputs.
test: install
	$(BIN)/python -m pytest --nbval

test-fast: install
	$(BIN)/python -m pytest tests -x -q

bench: install
	$(BIN)/python bench/run.py

# Re-run the `cpu` profile of every notebook into book/results (resumable; see README for the wall time).
cpu-runs: install
	$(BIN)/python -m repro.report run --profile cpu --out book/results

# The same chain of notebooks under the `smoke` profile, into a scratch folder: about 10 minutes on
# 2 cores, a check that every notebook runs and hands its runs to the next before cpu-runs.
smoke-runs: install
	rm -rf _build/smoke-runs
	$(BIN)/python -m repro.report run --profile smoke --out _build/smoke-runs

clean-book:
	rm -rf _build
