# Every target CI runs is here; `.ci/run` calls `make test`.
VENV := .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: install demo serve test test-fast lint format bench-deps bench-sync bench-tiles bench-hotspots bench-geocode bench

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

## Start the server on embedded SQLite with the demo city loaded.
demo: install
	$(VENV)/bin/ronda demo

## The whole test suite (PostgreSQL included; installs what it needs).
test:
	scripts/test

## The quick suite: skips slow fault and load tests, and PostgreSQL unless RONDA_TEST_PG_URL is set.
test-fast: install
	$(VENV)/bin/pytest -n "$${RONDA_TEST_WORKERS:-2}" --dist loadfile -m "not slow"

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## Kinto (the sync benchmark's yardstick) in its own venv: its pins are not ours. Granian
## serves it, as Kinto's production guide says.
.venv-kinto/.installed:
	$(PYTHON) -m venv .venv-kinto
	.venv-kinto/bin/pip install -q 'kinto[postgresql]' granian
	touch $@

bench-deps: .venv-kinto/.installed

## Push/merge/pull throughput on SQLite and PostgreSQL vs Kinto on PostgreSQL (docs/benchmarks.md).
bench-sync: install bench-deps
	$(PY) bench/sync.py

## Vector tiles over a million incidents vs PostGIS ST_AsMVT (installs PostGIS from Debian).
bench-tiles: install
	scripts/system-deps postgis
	$(PY) -m bench.tiles

## Gi* on a million incidents, store to classes, vs esda.
bench-hotspots: install
	$(PY) -m bench.hotspots

## The geocoder on the labelled set, and placement throughput.
bench-geocode: install
	$(PY) -m bench.geocode

## Every benchmark (tens of minutes: Kinto is slow).
bench: bench-sync bench-tiles bench-hotspots bench-geocode
