# invoicesync: `make run` starts everything on the embedded default; `make test` tests it.
SHELL := /bin/bash
UV ?= $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
PYTEST_ARGS ?=
# make mutate: the modules to mutate (default: all in pyproject's [tool.mutmut.modules]), the
# time limit for the whole run in minutes, and how many mutants are tested at once.
MUTATE_PATHS ?=
MUTATE_MINUTES ?= 60
MUTATE_CHILDREN ?= 2

.PHONY: run test test-fast install lint typecheck chaos soak bench mutate mutate-report clean

# uv from PyPI when missing; a system Python that refuses --user installs (PEP 668) gets a
# private virtual environment for it instead.
$(UV):
	python3 -m pip install --user --quiet uv 2>/dev/null \
	  || (python3 -m venv $(HOME)/.local/uv-venv && $(HOME)/.local/uv-venv/bin/pip install --quiet uv \
	      && mkdir -p $(HOME)/.local/bin && ln -sf $(HOME)/.local/uv-venv/bin/uv $(UV))

install: $(UV)
	$(UV) sync --frozen --quiet

run: install
	$(UV) run --frozen invoicesync-dev

# Two workers (pytest-xdist), each running whole test files (a file's stack starts once), the
# longest files first (tests/conftest.py): most of a stack's time is waiting on its processes.
# The small month-long soak is one of those files: it starts first, beside the chaos suite.
TEST_WORKERS ?= 2
test: install
	$(UV) run --frozen pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder \
	  $(PYTEST_ARGS)

# The fast lane, under 3 minutes: no process stacks and no broker. Every unit test, the API
# over real HTTP and PostgreSQL, the connector runtime and the sandbox emulators; left to
# make test: the exhaustive matrices and the fuzzer (marked reliability) and tests that
# start service processes of their own (marked processes).
FAST_MARKERS := not reliability and not processes
test-fast: install
	$(UV) run --frozen pytest -n $(TEST_WORKERS) --dist loadfile tests/unit tests/integration/api \
	  tests/integration/runtime tests/integration/sandbox -m "$(FAST_MARKERS)" $(PYTEST_ARGS)

lint: install
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

typecheck: install
	$(UV) run --frozen mypy shared/src services/*/src tools/devstack/src tests bench

chaos: install
	INVOICESYNC_CHAOS_SIZE=$${INVOICESYNC_CHAOS_SIZE:-full} $(UV) run --frozen pytest tests/reliability/test_chaos.py -m chaos -s

soak: install
	INVOICESYNC_SOAK_SIZE=$${INVOICESYNC_SOAK_SIZE:-full} $(UV) run --frozen pytest tests/reliability/test_soak.py -m soak -s

bench: install
	$(UV) run --frozen python -m bench.run

mutate: install
	nice -n 19 $(UV) run --frozen python -m tests.mutation.run --minutes $(MUTATE_MINUTES) \
	  --children $(MUTATE_CHILDREN) $(MUTATE_PATHS)

# The scores of the last make mutate runs, without running anything.
mutate-report: install
	$(UV) run --frozen python -m tests.mutation.run --report $(MUTATE_PATHS)

clean:
	rm -rf .run .pytest_cache
