# Two commands on a fresh machine with Python 3.11 and pip: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
# CPU wheel by default; GPU users override both, e.g.
#   make test TORCH_SPEC=torch==2.13.0 TORCH_INDEX_URL=https://download.pytorch.org/whl/cu126
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX_URL ?=
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast test-paper bench install lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml Makefile
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_SPEC)" $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL))
	$(PY) -m pip install --quiet -e ".[test,bench,plot,fast]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) examples/demo.py

test: $(STAMP)
	$(PY) -m pytest tests -q --durations=15

test-fast: $(STAMP)
	$(PY) -m pytest tests -q -m "not paper" --durations=10

test-paper: $(STAMP)
	$(PY) -m pytest tests -q -m paper

bench: $(STAMP)
	$(PY) benchmarks/bench_training.py
	$(PY) benchmarks/bench_kernels.py

lint: $(STAMP)
	$(PY) -m ruff check sklearn_overparam tests benchmarks examples

clean:
	rm -rf $(VENV) build *.egg-info
