"""Makes the DAG tests self-contained: a private AIRFLOW_HOME (sqlite), the project's dags/ folder and a
temporary data folder, all set before anything imports Airflow."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO / "dags"
STAGES = ("generate", "prepare", "train", "validate", "predict", "monitor")

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="airflow-ml-dags-home-"))
# One data folder for the session, made before any DAG is parsed: DAG files read HOST_DATA_DIR at parse time.
# Task containers run as uid 1000, hence a folder anyone may write.
DATA_DIR = _AIRFLOW_HOME / "data"
DATA_DIR.mkdir(mode=0o777)
DATA_DIR.chmod(0o777)

TEST_ENV = {
    "AIRFLOW_HOME": str(_AIRFLOW_HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}",
    # In tests the Docker engine and Airflow share one file system, so the mount source and the folder the
    # sensors look in (fs_default) are the same path; in docker compose they differ (a host path and
    # /opt/airflow/data).
    "HOST_DATA_DIR": str(DATA_DIR),
    "AIRFLOW_CONN_FS_DEFAULT": json.dumps({"conn_type": "fs", "extra": {"path": str(DATA_DIR)}}),
    # A failing task should end the run now, not after minutes of retry delays.
    "TASK_RETRIES": "0",
    "BACKFILL_DAYS": "7",
    "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p),
}
# Deployment settings of the caller's shell would change what the DAGs do; the images (IMAGE_PREFIX,
# IMAGE_VERSION) and the Docker engine (DOCKER_URL, DOCKER_HOST) are the caller's to choose.
for name in [k for k in os.environ if k.startswith(("AIRFLOW_VAR_", "AIRFLOW__", "SENSOR_"))]:
    del os.environ[name]
for name in (
    "DOCKER_NETWORK",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_REGISTERED_MODEL",
    "AIRFLOW_MLFLOW_URI",
    "MLFLOW_UI_URL",
    "TASK_USER",
    "PIPELINE_START_DATE",
    "PIPELINE_END_DATE",
    "PIPELINE_CATCHUP",
    "GENERATE_ROWS",
    "GENERATE_DRIFT_FROM",
):
    os.environ.pop(name, None)
os.environ.update(TEST_ENV)
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


# Wall times the tests record (parse, dag.test per DAG), printed at the end of the run.
TIMINGS: dict[str, float] = {}


def run_dag(dag, logical_date, conf=None, label=""):
    """dag.test() with its wall time recorded under ``label``. It does not raise when a task fails, so callers
    assert the returned run's state and the {task_id: state} map."""
    started = time.perf_counter()
    dag_run = dag.test(logical_date=logical_date, run_conf=conf)
    TIMINGS[label or f"dag.test {dag.dag_id}"] = time.perf_counter() - started
    return dag_run, {ti.task_id: ti.state for ti in dag_run.get_task_instances()}


def pushed_xcom(dag_run, task_id):
    """A task's return_value XCom as stored: a string for DockerOperator (the container's last output line,
    the image's JSON result), the object itself for a Python task such as a sensor."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        return session.scalars(
            XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id, task_ids=task_id, key="return_value")
        ).one().value


def reschedule_count(dag_run, task_id):
    """How often a sensor of this run gave its slot back to wait (reschedule mode)."""
    from airflow.models.taskreschedule import TaskReschedule
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        ti = next(t for t in dag_run.get_task_instances(session=session) if t.task_id == task_id)
        return session.scalar(select(func.count()).select_from(TaskReschedule).where(TaskReschedule.ti_id == ti.id))


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if TIMINGS:
        terminalreporter.section("DAG timings")
        for name, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{name}: {seconds:.2f} s")


def pytest_unconfigure(config: pytest.Config) -> None:
    # Files written by the task containers belong to uid 1000; a non-root user may not remove them.
    try:
        shutil.rmtree(_AIRFLOW_HOME)
    except PermissionError as err:
        sys.stderr.write(f"could not remove {_AIRFLOW_HOME}: {err}\n")


@pytest.fixture(scope="session")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER))


@pytest.fixture(scope="session")
def settings():
    from airflow_ml_dags.settings import load_settings

    return load_settings()


@pytest.fixture(scope="session")
def airflow_db():
    from airflow.utils import db

    db.initdb()


def _missing_images(settings) -> list[str]:
    wanted = [settings.image(s) for s in STAGES]
    out = subprocess.run(
        ["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"], capture_output=True, text=True, check=True
    ).stdout.split()
    return [image for image in wanted if image not in out]


@pytest.fixture(scope="session")
def images(settings):
    """The task images must exist: a missing one is a failure (run `make build`), never a skip."""
    missing = _missing_images(settings)
    if missing:
        pytest.fail(f"task images not built: {', '.join(missing)} (run `make build`)")
    return {s: settings.image(s) for s in STAGES}


# ---- a real MLflow server for the registry tests -----------------------------------------------------------

MLFLOW_IMAGE = os.environ.get("MLFLOW_IMAGE") or (
    f"{os.environ.get('IMAGE_PREFIX') or 'airflow-ml-dags'}/mlflow:"
    f"{os.environ.get('IMAGE_VERSION') or (REPO / 'VERSION').read_text().strip()}"
)
# How long MLflow may take to answer /health before the fixture gives up (it usually takes 5 to 30 s).
MLFLOW_START_LIMIT_SECONDS = 180


def _docker(*args: str) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout.strip()


@dataclass(frozen=True)
class MlflowServer:
    """One MLflow server in a container on its own Docker network.

    Task containers on ``network`` reach it at ``internal_uri`` (the container's name); this process, on the
    host, at ``host_uri`` (the published port): the two addresses of MLFLOW_TRACKING_URI and AIRFLOW_MLFLOW_URI.
    """

    container: str
    network: str
    internal_uri: str
    host_uri: str

    def request(self, method: str, endpoint: str, payload: dict | None = None) -> tuple[int, dict]:
        """One REST call, as (HTTP status, JSON body)."""
        url = f"{self.host_uri}/api/2.0/mlflow/{endpoint}"
        data = None
        if method == "GET" and payload:
            url += "?" + urllib.parse.urlencode(payload)
        elif payload is not None:
            data = json.dumps(payload).encode()
        request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"{}")

    def call(self, method: str, endpoint: str, payload: dict | None = None) -> dict:
        """A REST call that must succeed: to set the registry up or read it back."""
        status, body = self.request(method, endpoint, payload)
        assert status == 200, f"{method} {endpoint} {payload}: HTTP {status} {body}"
        return body

    def register_version(self, name: str) -> str:
        """A new version of ``name`` (the model created if missing), its source a fresh run's artifact folder."""
        status, body = self.request("POST", "registered-models/create", {"name": name})
        assert status == 200 or body.get("error_code") == "RESOURCE_ALREADY_EXISTS", (status, body)
        run = self.call("POST", "runs/create", {"experiment_id": "0"})["run"]["info"]
        version = self.call(
            "POST",
            "model-versions/create",
            {"name": name, "source": f"{run['artifact_uri']}/model", "run_id": run["run_id"]},
        )["model_version"]
        return version["version"]

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self.call("POST", "registered-models/alias", {"name": name, "alias": alias, "version": version})

    def alias_version(self, name: str, alias: str) -> str | None:
        """The version ``alias`` points at, or None when the model has no such alias."""
        model = self.call("GET", "registered-models/get", {"name": name})["registered_model"]
        return {a["alias"]: a["version"] for a in model.get("aliases", [])}.get(alias)


@pytest.fixture(scope="session")
def mlflow_server():
    """A fresh MLflow server (SQLite backend, served artifacts) for the session, removed at the end.

    Its image must exist: a missing one is a failure (run `make build-mlflow`), never a skip or a pull.
    """
    if not _docker("images", "-q", MLFLOW_IMAGE):
        pytest.fail(f"MLflow image not built: {MLFLOW_IMAGE} (run `make build-mlflow`)")
    suffix = f"{os.getpid()}-{secrets.token_hex(3)}"
    network, container = f"aml-dags-test-{suffix}", f"aml-dags-mlflow-{suffix}"
    _docker("network", "create", "--label", "airflow-ml-dags.test=dags", network)
    try:
        _docker(
            "run", "-d", "--pull", "never", "--name", container, "--network", network,
            "--label", "airflow-ml-dags.test=dags", "-p", "127.0.0.1::5000", MLFLOW_IMAGE,
            "mlflow", "server", "--host", "0.0.0.0", "--port", "5000",
            "--backend-store-uri", "sqlite:////mlflow/mlflow.db",
            "--artifacts-destination", "/mlflow/artifacts", "--serve-artifacts",
            # Two Host headers reach it (the container's name and 127.0.0.1 with a random port).
            "--allowed-hosts", "*",
            "--workers", "1",
        )  # fmt: skip
        try:
            host_port = _docker("port", container, "5000/tcp").splitlines()[0].rsplit(":", 1)[1]
            server = MlflowServer(
                container=container,
                network=network,
                internal_uri=f"http://{container}:5000",
                host_uri=f"http://127.0.0.1:{host_port}",
            )
            _wait_healthy(server)
            yield server
        finally:
            subprocess.run(["docker", "rm", "-f", container], capture_output=True)
    finally:
        subprocess.run(["docker", "network", "rm", network], capture_output=True)


def _wait_healthy(server: MlflowServer) -> None:
    deadline = time.monotonic() + MLFLOW_START_LIMIT_SECONDS
    while True:
        try:
            with urllib.request.urlopen(f"{server.host_uri}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass  # not listening yet: start-up takes a while; the checks below decide when to give up
        if _docker("inspect", "-f", "{{.State.Running}}", server.container) != "true":
            pytest.fail(f"MLflow container stopped before answering /health:\n{_logs(server.container)}")
        if time.monotonic() > deadline:
            pytest.fail(f"MLflow did not answer /health in {MLFLOW_START_LIMIT_SECONDS} s:\n{_logs(server.container)}")
        time.sleep(0.5)


def _logs(container: str) -> str:
    done = subprocess.run(["docker", "logs", "--tail", "30", container], capture_output=True, text=True)
    return done.stdout + done.stderr
