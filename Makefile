# Every target runs the same idempotent bootstrap first (deploy/bootstrap.sh).
PY := .venv/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
SCENARIO ?= deploy/scenarios/wuzhen-wic.json
PYTEST_ARGS ?=

.PHONY: bootstrap demo serve test lint bench bench-dispatch

bootstrap:
	@bash deploy/bootstrap.sh

demo: bootstrap
	$(PY) manage.py load_scenario $(SCENARIO)
	$(PY) manage.py demo_users --event wic-2019
	@echo "Serving the hub at http://$(HOST):$(PORT)/ with the dispatch worker (Ctrl-C stops both)"
	$(PY) manage.py dispatch_worker & worker=$$!; trap 'kill $$worker' EXIT; \
	$(PY) -m hub.serve -b $(HOST) -p $(PORT) --ping-interval 20 --ping-timeout 30 hub.asgi:application

serve: bootstrap
	@echo "Serving the hub at http://$(HOST):$(PORT)/ (Ctrl-C stops it)"
	$(PY) -m hub.serve -b $(HOST) -p $(PORT) --ping-interval 20 --ping-timeout 30 hub.asgi:application

test: bootstrap
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest $(PYTEST_ARGS)

lint: bootstrap
	.venv/bin/ruff check .
	.venv/bin/mypy .

bench-dispatch: bootstrap
	$(PY) bench/dispatch_bench.py

bench: bench-dispatch
	$(PY) bench/protocol_bench.py
