# recovery-stack — `make up` runs the stack, `make test` runs every test.
# Both do all the set-up first: system packages, virtualenv, Python packages
# (`make up` the stack's own; `make test` and `make lint` the dev extras too).
# `make up FAST=1`: the integration tests' timings, to watch a recovery in seconds.
# `make up INVENTORY=FILE`: also watch the hosts of that Ansible inventory (docs/fleet.md).
# `make up HOSTS=3`: three demo hosts beside the stack (127.0.0.2 …, each with its own
# sshd and supervisord), onboarded by deploy/agent.yml; combinable with FAST=1.
# `make up DRILLS=plan`: recovery drills on the plan's schedule (restore test weekly,
# full-recovery drill monthly; or DRILLS=restore-test=1d,...): STACK_DRILL_SCHEDULE.
# `make check`: the fast lane, every test that starts no process (no marker
# integration, chaos or browser: tests/support/lanes.py), in about half a minute.
# Both run on WORKERS pytest-xdist workers (2, one per core; WORKERS=0: in one process).
# `make chaos`: breaks that running stack (scenarios 1, 4, 6's memory hog and 7 of docs/recovery.md;
# with HOSTS=3 also the demo killed on host-2) and prints what each recovery took against
# the plan's RTO and RPO.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# What is installed, each newer than pyproject.toml once done: the stack's own
# packages (`make up`), and those plus the dev extras (`make test`, `make lint`).
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
FAST ?=
INVENTORY ?=
HOSTS ?=
DRILLS ?=
WORKERS ?= 2
# Each checkout's own short base folder for the tests' tmp_path: under pytest's
# default one, a worker's sub-folder (popen-gw0) takes supervisord's socket in a
# test's stack past AF_UNIX's 108 bytes. pytest empties it at each start.
PYTEST := $(PY) -m pytest -n $(WORKERS) \
	--basetemp=/tmp/rs-$(shell printf %s '$(CURDIR)' | cksum | cut -d' ' -f1)
CHAOS_RESULTS ?= $(CURDIR)/var/chaos/results.jsonl
# Scenario 4 garbles the running stack's orders file and leaves it restored.
# The remote-host kill (test_fleet_host.py) runs on a stack with demo hosts
# (`make up FAST=1 HOSTS=3`), and says it is skipped on one without.
CHAOS_TESTS := tests/chaos/test_single_service.py tests/chaos/test_data_corruption.py \
	tests/chaos/test_dependency_failure.py tests/chaos/test_resource_hog.py \
	tests/chaos/test_fleet_host.py

.PHONY: up test check chaos lint bench setup setup-test system-deps system-deps-test clean

up: setup
	$(if $(DRILLS),STACK_DRILL_SCHEDULE='$(DRILLS)') $(PY) -m stack up $(strip $(if $(filter 1 yes true,$(FAST)),--fast) $(if $(INVENTORY),--inventory '$(INVENTORY)') $(if $(HOSTS),--hosts $(HOSTS)))

test: setup-test
	$(PYTEST)

check: setup-test
	$(PYTEST) -m "not integration and not chaos and not browser"

# First a stack to break (one line saying what to do if there is none), then each
# scenario printed as it runs (tests/chaos/progress.py), then the table.
chaos: setup-test
	@PYTHONPATH=tests $(PY) -m chaos.preflight
	@rm -f $(CHAOS_RESULTS)
	@for t in $(filter-out $(wildcard $(CHAOS_TESTS)),$(CHAOS_TESTS)); do \
	  echo "make chaos: $$t is not built yet: skipped"; done
	@status=0; CHAOS_STACK=running CHAOS_RESULTS=$(CHAOS_RESULTS) PYTHONPATH=tests \
	  $(PY) -m pytest -q -p chaos.progress -o console_output_style=classic \
	  $(wildcard $(CHAOS_TESTS)) || status=$$?; \
	  PYTHONPATH=tests $(PY) -m chaos.table $(CHAOS_RESULTS) || true; exit $$status

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy exporters alert_webhook demo stack toolkit
	$(VENV)/bin/lint-imports

bench: setup-test
	@set -e; for script in bench/[!_]*.py; do echo "== $$script"; $(PY) $$script; done

setup: system-deps $(STAMP)
setup-test: system-deps-test $(DEV_STAMP)

system-deps:
	@scripts/system-deps.sh

system-deps-test:
	@scripts/system-deps.sh --test

define make-venv
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || { \
	  echo "make: cannot create a virtualenv: install python3-venv (Debian: apt-get install python3-venv)" >&2; exit 1; }
	$(PY) -m pip install --quiet --upgrade pip
endef

$(STAMP): pyproject.toml
	$(make-venv)
	$(PY) -m pip install --quiet -e '.'
	@touch $@

# The dev extras include the stack's packages: both stamps are then current.
$(DEV_STAMP): pyproject.toml
	$(make-venv)
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP) $@

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
