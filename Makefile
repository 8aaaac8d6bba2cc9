# Every target bootstraps .venv itself from a fresh clone (Python >= 3.10, pip, gcc).
# torch is pinned for the dev/CI install only (constraints.txt); the package accepts torch>=2.4.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PIP    := $(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt

.PHONY: run test fuzz lint bench serve clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) "torch==2.13.0"
	$(PIP) -e ".[web,tensorboard,sweep,export,notebook,dev]"
	touch $(STAMP)

## run: train the default model on the built-in circles data and say where the run went
run: $(STAMP)
	$(BIN)/mlplab train --name circles

## test: ruff + mypy + pytest, on 2 workers (each test file stays on one, see tests/conftest.py;
## `make test WORKERS=` runs the tests in one process)
WORKERS ?= -n 2 --dist loadfile
## Each step prints how long it took ("== phase NAME: N s"), so a slow one shows in CI's log.
timed = @echo "+ $(2)"; t0=$$(date +%s); rc=0; $(2) || rc=$$?; \
	echo "== phase $(1): $$(( $$(date +%s) - t0 )) s"; exit $$rc
test: $(STAMP)
	$(call timed,ruff,$(BIN)/ruff check src tests benchmarks)
	$(call timed,mypy,$(BIN)/mypy)
	$(call timed,pytest,$(BIN)/pytest $(WORKERS))

## fuzz: the Hypothesis property tests with many more examples than `make test` runs
fuzz: $(STAMP)
	MLPLAB_FUZZ_PROFILE=fuzz $(BIN)/pytest tests/fuzz --timeout 3600

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

## bench: the side-by-side benchmark suite; writes BENCHMARKS.md
bench: $(STAMP)
	$(BIN)/python -m benchmarks.run --write BENCHMARKS.md

## serve: the web playground on http://127.0.0.1:8000
serve: $(STAMP)
	$(BIN)/mlplab serve

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
