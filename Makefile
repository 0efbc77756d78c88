# 物业投诉中心 — the two commands that matter: `make up` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DOCKER_OK := $(shell docker info >/dev/null 2>&1 && echo yes)

.PHONY: help venv up down ps logs test test-unit test-faults test-scale test-fuzz docs lint compose-config clean bench bench-intake bench-ocr \
	bench-triage bench-routing bench-pipeline bench-queue bench-scale db-profile lag partitions train-triage eval-triage replay-dlq seed-history report verify-archive

help:
	@echo "make up       bring up Kafka, the MongoDB-wire server and every service (prints addresses); SCALE=2: two of each"
	@echo "make test     unit, integration and end-to-end tests on real Kafka and MongoDB (faults and fuzzing included)"
	@echo "make test-faults | test-fuzz   only the fault-injection run | only the fuzzers (each prints its counts)"
	@echo "make down     stop everything make up started"
	@echo "make ps|logs  status of the services | recent logs (make logs S=triage F=1 to follow one)"
	@echo "make docs     write docs/asyncapi.json from the contracts"
	@echo "make db-profile [RESET=1]   after CC_PG_STATS=1 make up and some load: the statements the database spends rows and time on"
	@echo "make lag      consumer lag per group and topic;  make partitions N=12   grow the topics (refused while lagging)"
	@echo "make replay-dlq TOPIC=complaint.received [SERVICE=triage] [DRY=1]   re-process parked messages"
	@echo "make bench    benchmarks, each beside a baseline from the same run (bench-intake, bench-ocr, bench-triage, bench-routing)"
	@echo "make train-triage                      retrain the triage model (labelled sets + operators' corrections)"
	@echo "make eval-triage EVAL=f.jsonl ESTATES=e.txt [JSON=1]   triage a labelled file and report"

$(PY): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	@touch $(PY)

venv: $(PY)

SCALE ?= 1
SCALED := operator_api web_intake phone_intake letter_intake fax_intake triage assignment followup archive

up: $(PY)  ## make up SCALE=2: two instances of every service
ifeq ($(DOCKER_OK),yes)
	docker compose $(if $(filter-out 1,$(SCALE)),-f docker-compose.yml -f deploy/compose.scale.yml,) up -d --build \
		$(foreach s,$(SCALED),--scale $(s)=$(SCALE))
	docker compose ps
else
	$(PY) -m deploy.native.stack up --scale $(SCALE)
endif

down: $(PY)
ifeq ($(DOCKER_OK),yes)
	docker compose down
else
	$(PY) -m deploy.native.stack down
endif

ps: $(PY)
	$(PY) -m deploy.native.stack ps

logs: $(PY)
	$(PY) -m deploy.native.stack logs $(S) $(if $(F),-f,)

test: $(PY)
	$(PY) -m pytest -q

test-unit: $(PY)
	$(PY) -m pytest -q tests/unit

test-faults: $(PY)
	$(PY) -m pytest -q -s tests/e2e/test_zy_faults.py

test-scale: $(PY)
	$(PY) -m pytest -q -s tests/e2e/test_zx_scale.py

test-fuzz: $(PY)
	$(PY) -m pytest -q -s tests/e2e/test_zz_fuzz.py tests/unit/test_contract_fuzz.py

bench: bench-triage bench-routing bench-ocr bench-intake bench-pipeline bench-queue bench-scale

bench-triage: $(PY)
	$(PY) -m benchmarks.triage_bench

EVAL ?= services/triage/data/holdout.jsonl
ESTATES ?= services/triage/data/estates.txt
eval-triage: $(PY)
	@$(PY) -m services.triage.evaluate $(EVAL) $(ESTATES) $(if $(JSON),--json,)

train-triage: $(PY)
	-$(PY) -m services.triage.export_corrections
	$(PY) -m services.triage.train

bench-routing: $(PY)
	$(PY) -m benchmarks.routing_bench

bench-ocr: $(PY)
	$(PY) -m benchmarks.ocr_eval

bench-intake: $(PY)
	$(PY) -m benchmarks.intake_bench

bench-pipeline: $(PY)
	$(PY) -m benchmarks.pipeline_bench

db-profile: $(PY)  ## after CC_PG_STATS=1 make up and some load: where the database's rows and time go
	$(PY) -m benchmarks.db_profile $(if $(RESET),--reset,)

bench-queue: $(PY)
	$(PY) -m benchmarks.queue_bench

bench-scale: $(PY)  ## one instance of every service against two, same run; CPU per complaint per service
	$(PY) -m benchmarks.scale_bench

lag: $(PY)  ## messages waiting per consumer group and topic
	$(PY) -m shared.partitions lag

partitions: $(PY)  ## make partitions N=12: grow every topic (refused while any group lags; see shared/partitions.py)
	$(PY) -m shared.partitions grow $(N)

replay-dlq: $(PY)
	$(PY) -m shared.dlq $(TOPIC) $(if $(SERVICE),--service $(SERVICE),) $(if $(DRY),--dry-run,)

seed-history: $(PY)  ## a month of past cases into the archive: make seed-history MONTH=2026-10
	$(PY) -m deploy.demo_history --month $(MONTH)

report: $(PY)  ## the review-meeting report: make report PERIOD=2026-10 (or 2026-Q4) → reports/*.xlsx and *.pdf
	@mkdir -p reports
	$(PY) -m deploy.demo_history --report $(PERIOD) --out reports

verify-archive: $(PY)  ## check every case's hash chain (or CASE=<id>); exits 1 on tampering
	$(PY) -m services.archive.verify $(if $(CASE),--case $(CASE),)

docs: $(PY)
	$(PY) -m shared.asyncapi docs/asyncapi.json

lint: $(PY)
	$(VENV)/bin/ruff check .

compose-config:
	docker compose config -q && echo "docker-compose.yml is valid"

clean: down
	rm -rf .run
