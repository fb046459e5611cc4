# Two commands do all set-up: `make run` (the whole system) and `make test` (the suite).
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
# Rasa 3.6 needs Python 3.10: take it from PATH or pyenv.
# A pyenv shim may exist without working, so each candidate must actually run.
PYTHON310 := $(shell for p in $$(ls -d $$HOME/.pyenv/versions/3.10*/bin/python3.10 2>/dev/null) $$(command -v python3.10); do \
                "$$p" -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1 && { echo "$$p"; break; }; done)
export RASA_TELEMETRY_ENABLED := false
export PYTHONPATH := $(CURDIR)

.PHONY: run test train seed lint bench clean help review-report

help:
	@echo "make run    - install if needed, train if data changed, seed, start Rasa + actions + hub"
	@echo "make test   - install if needed and run the whole test suite"
	@echo "make train  - train only if config or data changed"
	@echo "make lint   - ruff"
	@echo "make review-report - NLU figures on the held-out sets before/after data/nlu/reviewed.yml"

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON310)" || { echo "Python 3.10 is required (Rasa 3.6 supports <=3.10)"; exit 1; }
	@test -x $(PY) || $(PYTHON310) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

run: $(VENV)/.installed
	$(PY) -m bot.runtime run

test: $(VENV)/.installed
	$(PY) -m pytest -q -rs

train: $(VENV)/.installed
	$(PY) -m bot.runtime train

seed: $(VENV)/.installed
	$(PY) -m bot.orders.seed --if-empty

bench: $(VENV)/.installed
	$(PY) -m bench.run_all

# ARGS="--before models/kefu-<hash>.tar.gz" reuses a model instead of training the "before" one
review-report: $(VENV)/.installed
	$(PY) -m bench.review_report $(ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

clean:
	rm -rf models var .pytest_cache
