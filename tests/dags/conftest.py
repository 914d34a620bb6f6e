"""Makes the DAG tests self-contained: a private AIRFLOW_HOME (sqlite), the project's dags/ folder and a
temporary data folder, all set before anything imports Airflow."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO / "dags"
STAGES = ("generate", "prepare", "train", "validate", "predict")

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
for name in ("DOCKER_NETWORK", "MLFLOW_TRACKING_URI", "TASK_USER"):
    os.environ.pop(name, None)
os.environ.update(TEST_ENV)
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


# Wall times the tests record (parse, dag.test per DAG), printed at the end of the run.
TIMINGS: dict[str, float] = {}


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
