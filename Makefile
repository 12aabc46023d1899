# Every target runs the same idempotent bootstrap first (deploy/bootstrap.sh).
PY := .venv/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
SCENARIO ?= deploy/scenarios/wuzhen-wic.json
DRILL ?= deploy/scenarios/wuzhen-drill.json
DRILL_SPEED ?= 10
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: bootstrap demo serve test lint bench bench-dispatch

bootstrap:
	@bash deploy/bootstrap.sh

# The drill makes a fresh exercise event, binds the demo users to it and starts once the hub
# answers, so every screen shows it live. All three run in the background and the shell waits:
# on Ctrl-C its trap stops the drill first (its terminals close their sockets and its event
# closes), then the hub and the worker; background jobs of a non-interactive shell ignore
# Ctrl-C themselves.
demo: bootstrap
	$(PY) manage.py load_scenario $(SCENARIO)
	$(PY) manage.py demo_users --event wic-2019
	@echo "Serving the hub at http://$(HOST):$(PORT)/ with the dispatch worker and a drill at $(DRILL_SPEED)x (Ctrl-C stops all three)"
	$(PY) manage.py dispatch_worker & worker=$$!; \
	$(PY) -m hub.serve -b $(HOST) -p $(PORT) --ping-interval 20 --ping-timeout 30 \
		hub.asgi:application & hub=$$!; \
	$(PY) manage.py run_drill $(DRILL) --speed $(DRILL_SPEED) --demo-users \
		--hub ws://$(HOST):$(PORT)/ws/terminal/ & drill=$$!; \
	trap 'kill $$drill 2>/dev/null; wait $$drill; kill $$hub $$worker 2>/dev/null; wait' \
		INT TERM EXIT; \
	wait $$hub

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

# BENCH_ARGS=--quick for a smoke run of a few minutes; see docs/performance.md for the others.
bench: bench-dispatch
	$(PY) bench/load_bench.py $(BENCH_ARGS)
