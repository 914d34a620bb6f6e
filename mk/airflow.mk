# Airflow side: the Python environment of the DAGs and their tests. Included by the Makefile, which defines
# VERSION and IMAGE_PREFIX (the task images the DAGs run).

AIRFLOW_PYTHON       ?= python3.11
VENV                 ?= .venv
AIRFLOW_REQUIREMENTS := requirements/airflow.txt
AIRFLOW_LOCK         := requirements/airflow.lock.txt
AIRFLOW_VENV_STAMP   := $(VENV)/.airflow-lock.stamp
DAG_TEST_ENV         := IMAGE_PREFIX=$(IMAGE_PREFIX) IMAGE_VERSION=$(VERSION) MLFLOW_IMAGE=$(IMAGE_PREFIX)/mlflow:$(VERSION)

.PHONY: venv
venv: $(AIRFLOW_VENV_STAMP) ## Python env for the DAGs (.venv), installed from the lock when the lock changed

$(AIRFLOW_VENV_STAMP): $(AIRFLOW_LOCK)
	$(AIRFLOW_PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r $(AIRFLOW_LOCK)
	$(VENV)/bin/python -m pip check
	@touch $@

.PHONY: lock-airflow
lock-airflow: ## Resolve requirements/airflow.txt afresh and rewrite requirements/airflow.lock.txt
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(AIRFLOW_PYTHON) -m venv "$$tmp"; \
	"$$tmp/bin/python" -m pip install --quiet --disable-pip-version-check -r $(AIRFLOW_REQUIREMENTS); \
	"$$tmp/bin/python" -m pip check; \
	{ echo "# pip freeze of a fresh $$("$$tmp/bin/python" -V) env made from airflow.txt (make lock-airflow)"; \
	  "$$tmp/bin/python" -m pip freeze --all --exclude pip --exclude setuptools --exclude wheel; } > $(AIRFLOW_LOCK)
	@echo "wrote $(AIRFLOW_LOCK)"

.PHONY: test-dags-fast
test-dags-fast: venv ## DAG tests that need no Docker: parse time, structure, the package
	$(DAG_TEST_ENV) $(VENV)/bin/python -m pytest tests/dags -m "not docker"

.PHONY: test-dags
test-dags: venv build build-mlflow build-docker-proxy ## DAG tests: dag.test() runs on the built images, the registry scenario on a real MLflow
	$(DAG_TEST_ENV) $(VENV)/bin/python -m pytest tests/dags
