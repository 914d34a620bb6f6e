"""The Celery topology as docker compose renders it (compose/docker-compose.celery.yml over the base file): who
talks to the engine, where the data is, what the workers serve. The e2e suite runs it; this holds the wiring to
what docs/scaling.md says, in seconds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_ml_dags import contract

REPO = Path(__file__).resolve().parents[2]
PROJECT = "aml-topology-test"
AIRFLOW_SERVICES = {"airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"}


def _config(tmp: Path, *files: str) -> dict:
    env_file = tmp / ".env"
    if not env_file.exists():
        subprocess.run(["bash", str(REPO / "compose/make-env.sh"), str(env_file), str(tmp / "data")], check=True,
                       capture_output=True)  # fmt: skip
    args = ["docker", "compose", "--project-directory", str(REPO / "compose"), "--env-file", str(env_file)]
    for f in files:
        args += ["-f", str(REPO / "compose" / f)]
    done = subprocess.run(
        [*args, "--profile", "flower", "--profile", "triggerer", "config", "--format", "json"],
        capture_output=True, text=True, env={"PATH": "/usr/local/bin:/usr/bin:/bin", "COMPOSE_PROJECT_NAME": PROJECT,
                                             "IMAGE_VERSION": "0.0.0"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def celery(tmp_path_factory) -> dict:
    return _config(tmp_path_factory.mktemp("celery"), "docker-compose.yml", "docker-compose.celery.yml")


@pytest.fixture(scope="module")
def local(tmp_path_factory) -> dict:
    return _config(tmp_path_factory.mktemp("local"), "docker-compose.yml")


def _airflow(config: dict) -> dict:
    return {n: s for n, s in config["services"].items() if n.startswith("airflow") or n == "flower"}


def test_the_default_stays_local_with_no_broker(local):
    assert {s["environment"]["AIRFLOW__CORE__EXECUTOR"] for s in _airflow(local).values()} == {"LocalExecutor"}
    assert not {"redis", "airflow-worker", "flower"} & set(local["services"])
    assert local["services"]["airflow-triggerer"]["profiles"] == ["triggerer"]


def test_every_airflow_service_runs_celery(celery):
    services = _airflow(celery)
    assert AIRFLOW_SERVICES | {"airflow-worker", "flower"} <= set(services)
    for name, service in services.items():
        env = service["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://redis:6379/0", name
        # The results live in Airflow's own database, with its password.
        password = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].split("://airflow:", 1)[1].split("@", 1)[0]
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == f"db+postgresql+psycopg2://airflow:{password}@postgres:5432/airflow"
    assert celery["services"]["flower"]["profiles"] == ["flower"]


def test_only_the_proxy_holds_the_socket_and_only_scheduler_and_workers_reach_it(celery):
    for name, service in celery["services"].items():
        sockets = [v for v in service.get("volumes", []) if "docker.sock" in v.get("source", "")]
        assert bool(sockets) == (name == "docker-proxy"), name
    members = {n for n, s in celery["services"].items() if "docker-api" in s.get("networks", {})}
    assert members == {"docker-proxy", "airflow-scheduler", "airflow-worker"}
    assert celery["services"]["airflow-worker"]["environment"]["DOCKER_URL"] == "tcp://docker-proxy:2375"


def test_the_data_is_one_named_volume_seen_by_every_airflow_service_and_allowed_by_the_proxy(celery):
    name = f"{PROJECT}-data"
    assert celery["volumes"]["pipeline-data"]["name"] == name
    sensors_path = json.loads(celery["services"]["airflow-worker"]["environment"]["AIRFLOW_CONN_FS_DEFAULT"])["extra"]["path"]
    for service_name, service in _airflow(celery).items():
        data = [v for v in service["volumes"] if v["target"] == sensors_path]
        assert data == [{"type": "volume", "source": "pipeline-data", "target": sensors_path, "volume": {}}], service_name
        assert service["environment"]["DATA_VOLUME"] == name, service_name
    assert celery["services"]["docker-proxy"]["environment"]["ALLOW_VOLUME"] == name


def test_a_worker_serves_every_queue_of_the_contract_unless_told(celery):
    worker = celery["services"]["airflow-worker"]
    assert worker["command"] == ["/opt/airflow/worker.sh"]
    assert worker["environment"]["WORKER_QUEUES"] == ""
    # The script's own Python, run here as the worker runs it.
    script = (REPO / "compose/airflow/worker.sh").read_text()
    program = script.split("python -c '", 1)[1].split("'", 1)[0]
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().split(",") == sorted({s["queue"] for s in contract.STAGES.values()} | {"default"})
    assert done.stdout.strip() == "default,training"
