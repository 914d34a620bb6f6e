# airflow-ml-dags: `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VERSION     := $(shell cat VERSION)
GIT_SHA     := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
NODE_IMAGE  ?= node:22-bookworm-slim
PYTHON_IMAGE ?= python:3.11-slim-bookworm
DEBIAN_IMAGE ?= debian:bookworm-slim
IMAGE_PREFIX ?= airflow-ml-dags
# The task images are the pipeline contract's (contract/pipeline.json), as the DAGs' are.
STAGES      := $(shell python3 -c 'import json; print(" ".join(json.load(open("contract/pipeline.json"))["images"]))')
LIBS        := common model
PACKAGES    := $(addprefix images/,$(LIBS) $(STAGES))

.PHONY: help
help: ## Show the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# ---- images ------------------------------------------------------------------------------------------------

.PHONY: build
build: $(addprefix build-,$(STAGES)) ## Build and tag the two Node bases, then every task image (airflow-ml-dags/<stage>:<version>)

# The bases every stage image starts from (images/base/Dockerfile): the build base (Node, esbuild) and the
# runtime base (Debian slim, the stripped node binary, the node user, the entrypoint), and TensorFlow's native
# addon and library, which the stages that run networks copy (train, validate, predict).
NODE_BUILD   := $(IMAGE_PREFIX)/node-build:$(VERSION)
NODE_RUNTIME := $(IMAGE_PREFIX)/node-runtime:$(VERSION)
NODE_TENSORFLOW := $(IMAGE_PREFIX)/node-tensorflow:$(VERSION)

.PHONY: build-bases
build-bases: ## Build the two Node bases of the task images (images/base/Dockerfile)
	docker build -q -f images/base/Dockerfile --target build --build-arg NODE_IMAGE=$(NODE_IMAGE) -t $(NODE_BUILD) .
	docker build -q -f images/base/Dockerfile --target runtime --build-arg NODE_IMAGE=$(NODE_IMAGE) \
	  --build-arg DEBIAN_IMAGE=$(DEBIAN_IMAGE) -t $(NODE_RUNTIME) .
	docker build -q -f images/base/Dockerfile --target tensorflow --build-arg NODE_IMAGE=$(NODE_IMAGE) -t $(NODE_TENSORFLOW) .

# V8's young generation per stage in MB (images/base/Dockerfile says why). 64 where speed pays (generate, predict);
# smaller where the memory a task holds matters more than the second it costs (measured at a million rows:
# prepare 0.60 → 0.49 GB for 1 s more, train 0.46 → 0.35 GB for the same time, validate 0.23 → 0.11 GB).
YOUNG_GENERATION_MB_prepare := 16
YOUNG_GENERATION_MB_train := 16
YOUNG_GENERATION_MB_validate := 8

# A stage's libraries, "name@version ...": its package.json "dependencies" but the shared libraries (the
# image's airflow-ml-dags.libraries label, which `make images` shows).
libraries = $(strip $(shell sed -n '/^  "dependencies": {/,/^  }/s/^    "\([^"]*\)": "\([^"]*\)".*/\1@\2/p' \
  images/$(1)/package.json | grep -v '^@airflow-ml-dags/'))

.PHONY: $(addprefix build-,$(STAGES))
$(addprefix build-,$(STAGES)): build-%: build-bases
	docker build -q -f images/$*/Dockerfile --build-arg STAGE=$* \
	  --build-arg NODE_BUILD=$(NODE_BUILD) --build-arg NODE_RUNTIME=$(NODE_RUNTIME) --build-arg NODE_TENSORFLOW=$(NODE_TENSORFLOW) \
	  --build-arg YOUNG_GENERATION_MB=$(or $(YOUNG_GENERATION_MB_$*),64) \
	  --build-arg VERSION=$(VERSION) --build-arg GIT_SHA=$(GIT_SHA) --build-arg LIBRARIES="$(call libraries,$*)" \
	  -t $(IMAGE_PREFIX)/$*:$(VERSION) .

# The service images of the stack; `make up` builds them through compose, tests build them here.
.PHONY: build-mlflow build-airflow
build-mlflow build-airflow: build-%:
	docker build -q -f compose/$*/Dockerfile --build-arg PYTHON_IMAGE=$(PYTHON_IMAGE) -t $(IMAGE_PREFIX)/$*:$(VERSION) .

.PHONY: build-docker-proxy
build-docker-proxy:
	docker build -q --build-arg BASE_IMAGE=$(DEBIAN_IMAGE) -t $(IMAGE_PREFIX)/docker-proxy:$(VERSION) compose/docker-proxy

.PHONY: images
images: ## List the images and their sizes, and each task image's libraries
	@printf '%-34s %8s  %s\n' IMAGE SIZE LIBRARIES
	@docker images --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' | grep '^$(IMAGE_PREFIX)/' | sort | \
	  while IFS=$$'\t' read -r image size; do \
	    printf '%-34s %8s  %s\n' "$$image" "$$size" \
	      "$$(docker image inspect -f '{{index .Config.Labels "airflow-ml-dags.libraries"}}' "$$image")"; \
	  done

# ---- the stack (docker compose) ----------------------------------------------------------------------------

ENV_FILE    := .env
DATA_DIR    ?= data
# EXECUTOR=celery: the Celery topology on top (compose/docker-compose.celery.yml, docs/scaling.md) with WORKERS
# workers, and Flower with FLOWER=1. The commands that stop or show the stack read both files and every
# profile, whichever runs.
EXECUTOR    ?= local
WORKERS     ?= 2
FLOWER      ?=
# TRIGGERER=1: Airflow's triggerer too, for deferrable tasks (this pipeline's tasks defer nothing).
TRIGGERER   ?=
PROFILES    = $(if $(FLOWER),--profile flower) $(if $(TRIGGERER),--profile triggerer)
COMPOSE_BASE := docker compose --project-directory compose --env-file $(abspath $(ENV_FILE)) -f compose/docker-compose.yml
COMPOSE_CELERY := $(COMPOSE_BASE) -f compose/docker-compose.celery.yml
COMPOSE     := $(COMPOSE_CELERY) --profile flower --profile triggerer
ifeq ($(EXECUTOR),celery)
COMPOSE_UP  = $(COMPOSE_CELERY) $(PROFILES) up -d --build --wait --scale airflow-worker=$(WORKERS)
else ifeq ($(EXECUTOR),local)
COMPOSE_UP  = $(COMPOSE_BASE) $(PROFILES) up -d --build --wait
else
COMPOSE_UP  = $(error EXECUTOR: expected local or celery, got '$(EXECUTOR)')
endif
export IMAGE_VERSION := $(VERSION)
export IMAGE_PREFIX

$(ENV_FILE):
	@bash compose/make-env.sh $(ENV_FILE) $(DATA_DIR)

.PHONY: up
up: $(ENV_FILE) build ## Start Airflow, Postgres and MLflow; the DAGs fill the last week by themselves (EXECUTOR=celery WORKERS=2: on Celery)
	@bash compose/make-env.sh $(ENV_FILE) $(DATA_DIR)
	@# Task containers write as uid 1000 and Airflow reads as uid 50000: the data folder must let both in.
	@chmod a+rwx $(DATA_DIR)
	DOCKER_GID=$$(stat -c %g /var/run/docker.sock) $(COMPOSE_UP)
	@. ./$(ENV_FILE); echo; \
	 echo "Airflow: http://localhost:$${AIRFLOW_PORT:-8080}  (user $${AIRFLOW_ADMIN_USER:-admin}, password: AIRFLOW_ADMIN_PASSWORD in $(ENV_FILE))"; \
	 echo "MLflow:  http://localhost:$${MLFLOW_PORT:-5000}"; \
	 $(if $(filter celery,$(EXECUTOR)),echo "Data:    the Docker volume $${COMPOSE_PROJECT_NAME:-airflow-ml-dags}-data (WORKERS=$(WORKERS) Celery workers)",echo "Data:    $$HOST_DATA_DIR")

.PHONY: down
down: ## Stop the stack; keeps the database, MLflow runs and the data folder
	$(COMPOSE) down

.PHONY: clean
clean: ## Stop the stack and delete its volumes and the data folder
	$(COMPOSE) down -v --remove-orphans
	rm -rf $(DATA_DIR)

.PHONY: logs
logs: ## Follow the stack's logs
	$(COMPOSE) logs -f

.PHONY: ps
ps: ## Show the stack's services and their health
	$(COMPOSE) ps

# ---- node packages -----------------------------------------------------------------------------------------

# Reinstall a package's node_modules only when its lockfile changed.
%/node_modules/.package-lock.json: %/package-lock.json %/package.json
	cd $* && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

NODE_TESTS  := tests/smoke tests/e2e

.PHONY: deps
deps: $(addsuffix /node_modules/.package-lock.json,$(PACKAGES) $(NODE_TESTS)) ## Install the Node test dependencies

# ---- tests -------------------------------------------------------------------------------------------------

include mk/airflow.mk

.PHONY: contract-docs
contract-docs: ## Regenerate the tables of docs/contracts.md from contract/pipeline.json
	python3 contract/docs.py

# Tests write only into temporary folders and git-ignored ones (node_modules, .venv, __pycache__). `make test`
# holds them to it: it notes the work tree before the suites and after (each path git status lists, with its
# status and its content's hash) and fails naming the paths that changed. Uncommitted work of one's own is fine.
TREE_STATE = git status --porcelain=v1 -z --untracked-files=all --no-renames | while IFS= read -r -d '' entry; do \
  printf '%s\t%s %s\n' "$${entry:3}" "$${entry:0:2}" "$$(git hash-object -- "$${entry:3}" 2>/dev/null || echo -)"; done

.PHONY: test
test: ## Run every test suite (unit, smoke, MLflow, DAG runs, stack e2e); fails if one wrote into the work tree
	@before=$$($(TREE_STATE)); \
	 $(MAKE) --no-print-directory test-suites; status=$$?; \
	 changed=$$(diff <(echo "$$before") <(echo "$$($(TREE_STATE))") | sed -n 's/^[<>] //p' | cut -f1 | sort -u); \
	 if [ -n "$$changed" ]; then \
	   echo "make test changed the work tree (git status --porcelain before and after the suites):" >&2; \
	   sed 's/^/  /' <<<"$$changed" >&2; exit 1; \
	 fi; \
	 exit $$status

.PHONY: test-suites
test-suites: test-unit test-smoke test-mlflow test-dags test-e2e

.PHONY: typecheck
typecheck: deps ## Type-check every TypeScript package (strict)
	@set -e; for p in $(PACKAGES) $(NODE_TESTS); do echo "tsc $$p"; (cd $$p && npx tsc -p tsconfig.json); done

.PHONY: test-unit
test-unit: typecheck ## Unit tests (mocha) of the shared libraries and every image
	@set -e; for p in $(PACKAGES); do echo "== mocha $$p"; (cd $$p && npx mocha); done

.PHONY: test-mlflow
test-mlflow: build-mlflow deps ## The MLflow REST client against a real MLflow 3 server it starts
	cd images/common && MLFLOW_IMAGE=$(IMAGE_PREFIX)/mlflow:$(VERSION) npx mocha --no-config --node-option import=tsx \
	  --timeout 180000 'test/integration/**/*.test.ts'

.PHONY: test-smoke
test-smoke: build build-mlflow deps ## The built images through the whole chain, and the registry scenario on a real MLflow
	cd tests/smoke && IMAGE_PREFIX=$(IMAGE_PREFIX) IMAGE_VERSION=$(VERSION) MLFLOW_IMAGE=$(IMAGE_PREFIX)/mlflow:$(VERSION) npx mocha

# Where test-e2e puts the UI screenshots it takes and checks: empty, a temporary folder it removes afterwards.
SCREENSHOT_DIR ?=

.PHONY: test-e2e
test-e2e: build build-airflow build-mlflow build-docker-proxy deps ## The compose stack on free ports runs a fixed week by itself; checks its UI screenshots
	cd tests/e2e && IMAGE_PREFIX=$(IMAGE_PREFIX) IMAGE_VERSION=$(VERSION) SCREENSHOT_DIR=$(SCREENSHOT_DIR) npx mocha

.PHONY: screenshots
screenshots: ## Retake the README's UI screenshots into docs/screenshots (runs test-e2e; make test does not)
	$(MAKE) --no-print-directory test-e2e SCREENSHOT_DIR=$(CURDIR)/docs/screenshots

.PHONY: clean-build
clean-build: ## Remove build outputs and node_modules
	rm -rf $(addsuffix /node_modules,$(PACKAGES) $(NODE_TESTS)) $(addsuffix /dist,$(PACKAGES))

# ---- benchmark ---------------------------------------------------------------------------------------------

BENCH_ARGS ?=

.PHONY: bench
bench: build build-airflow build-mlflow ## Stage throughput, task overhead, a week's latency and the idle stack against pandas and polars references: docs/benchmarks.md
	docker build -q -f bench/reference/Dockerfile --build-arg PYTHON_IMAGE=$(PYTHON_IMAGE) \
	  -t $(IMAGE_PREFIX)/bench-reference:$(VERSION) bench/reference
	docker build -q -f bench/reference-polars/Dockerfile --build-arg PYTHON_IMAGE=$(PYTHON_IMAGE) \
	  -t $(IMAGE_PREFIX)/bench-reference-polars:$(VERSION) bench
	$(AIRFLOW_PYTHON) bench/bench.py --prefix $(IMAGE_PREFIX) --version $(VERSION) --node-image $(NODE_IMAGE) $(BENCH_ARGS)

SCALE_ARGS ?=

.PHONY: bench-scale
bench-scale: build build-airflow build-mlflow build-docker-proxy ## A month's backfill on 1 and 2 Celery workers, compared byte for byte with the days run one by one: docs/scaling.md
	$(AIRFLOW_PYTHON) bench/scale.py --prefix $(IMAGE_PREFIX) --version $(VERSION) $(SCALE_ARGS)
