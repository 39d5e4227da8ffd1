# Two entry points: `make run` and `make test`. Both set up .venv on their own.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Two stamps: `make run` installs what running needs, `make test` adds the
# dev extra (test and lint tools) on top, once.
RUN_STAMP := $(VENV)/.installed-run
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck pytest bench bench-backlog bench-broadcast bench-cloud bench-webhooks clean

$(BIN)/python:
	@echo '==> creating the virtual environment in $(VENV)'
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the project's dependencies change. pip is not quiet:
# a first install takes a while, and its lines show it is under way.
$(RUN_STAMP): pyproject.toml | $(BIN)/python
	@echo '==> updating pip'
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo '==> installing Kurir and what it needs to run (the first time takes a minute)'
	$(BIN)/python -m pip install -e .
	touch $(RUN_STAMP)

$(STAMP): $(RUN_STAMP)
	@echo '==> installing the development tools (ruff, mypy, pytest)'
	$(BIN)/python -m pip install -e '.[dev]'
	touch $(STAMP)

run: $(RUN_STAMP)
	@echo '==> migrating the database'
	$(BIN)/kurir migrate
	@echo '==> starting Kurir (Ctrl+C stops it)'
	$(BIN)/kurir serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Two workers, a file each at a time: most tests wait on real servers, not the CPU.
pytest: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadfile

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_accept.py

# Fills databases with up to 10 million scheduled messages: about 20 minutes.
bench-backlog: $(STAMP)
	$(BIN)/python benchmarks/bench_backlog.py --sizes 0,1000000,10000000

# A 100,000-receiver broadcast: its creation, and reading it while it sends; a minute.
bench-broadcast: $(STAMP)
	$(BIN)/python benchmarks/bench_broadcast.py --receivers 100000

# The Cloud API transport against the Graph stand-in: dispatch over 20 devices and
# Meta's status webhooks, 20,000 of each, with a baseline each; a few minutes.
bench-cloud: $(STAMP)
	$(BIN)/python benchmarks/bench_cloud.py

# Webhook deliveries/s, event-to-delivery latency, and dispatch with webhooks: a few minutes.
bench-webhooks: $(STAMP)
	$(BIN)/python benchmarks/bench_webhooks.py

clean:
	rm -rf $(VENV) data .mypy_cache .ruff_cache .pytest_cache
