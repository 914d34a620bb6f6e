"""Deployment settings, read from the environment once per DAG parse.

Three path spaces are kept apart:

* ``HOST_DATA_DIR``: the data folder as the Docker engine sees it; DockerOperator binds it at ``/data``.
* the folder as the Airflow process sees it: the ``fs_default`` connection's ``path``
  (``AIRFLOW_CONN_FS_DEFAULT``); only sensors look there.
* ``/data``: the same folder inside a task container; every command line names paths relative to it.

Variables (all optional but HOST_DATA_DIR in a deployment):

* ``HOST_DATA_DIR``: absolute; default ``data/`` of the checkout
* ``IMAGE_PREFIX`` (default ``airflow-ml-dags``), ``IMAGE_VERSION`` (default: the checkout's VERSION file):
  images are ``{IMAGE_PREFIX}/{stage}:{IMAGE_VERSION}``
* ``DOCKER_URL`` (default ``DOCKER_HOST``, then the local socket), ``DOCKER_NETWORK`` (default: Docker's bridge)
* ``MLFLOW_TRACKING_URI``: passed on to the task containers when set
* ``TASK_USER``: user the containers run as (default: the images' own, uid 1000)
* ``TASK_RETRIES`` (2), ``SENSOR_POKE_INTERVAL_SECONDS`` (60), ``SENSOR_TIMEOUT_SECONDS`` (7200)
* ``BACKFILL_DAYS`` (7): how many days, today included, a fresh deployment runs
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

STAGES = ("generate", "prepare", "train", "validate", "predict")

# The folder every task image reads and writes (its CLI's --data-dir default).
CONTAINER_DATA_DIR = "/data"

_VERSION_FILE = Path(__file__).resolve().parent.parent / "VERSION"


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    host_data_dir: str
    image_prefix: str
    image_version: str
    docker_url: str
    docker_network: str | None
    mlflow_tracking_uri: str | None
    task_user: str | None
    task_retries: int
    sensor_poke_interval: int
    sensor_timeout: int
    backfill_days: int

    def image(self, stage: str) -> str:
        if stage not in STAGES:
            raise SettingsError(f"unknown stage {stage!r}: expected one of {', '.join(STAGES)}")
        return f"{self.image_prefix}/{stage}:{self.image_version}"


def _int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}: expected an integer, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name}: expected at least {minimum}, got {value}")
    return value


def _optional(env: Mapping[str, str], name: str) -> str | None:
    return env.get(name, "").strip() or None


def _default_version() -> str:
    # A checkout carries the image version in VERSION; a deployment without it must say IMAGE_VERSION,
    # because running whatever "latest" happens to be would make runs unreproducible.
    try:
        return _VERSION_FILE.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise SettingsError("IMAGE_VERSION is not set and there is no VERSION file to default to") from None


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    host_data_dir = env.get("HOST_DATA_DIR", "").strip() or str(_VERSION_FILE.parent / "data")
    if not PurePosixPath(host_data_dir).is_absolute():
        # The Docker engine resolves bind sources on its own host: a relative path has no meaning there.
        raise SettingsError(f"HOST_DATA_DIR: expected an absolute path, got {host_data_dir!r}")
    return Settings(
        host_data_dir=host_data_dir,
        image_prefix=env.get("IMAGE_PREFIX", "").strip() or "airflow-ml-dags",
        image_version=env.get("IMAGE_VERSION", "").strip() or _default_version(),
        docker_url=_optional(env, "DOCKER_URL") or _optional(env, "DOCKER_HOST") or "unix://var/run/docker.sock",
        docker_network=_optional(env, "DOCKER_NETWORK"),
        mlflow_tracking_uri=_optional(env, "MLFLOW_TRACKING_URI"),
        task_user=_optional(env, "TASK_USER"),
        task_retries=_int(env, "TASK_RETRIES", 2, 0),
        sensor_poke_interval=_int(env, "SENSOR_POKE_INTERVAL_SECONDS", 60, 1),
        sensor_timeout=_int(env, "SENSOR_TIMEOUT_SECONDS", 2 * 60 * 60, 1),
        backfill_days=_int(env, "BACKFILL_DAYS", 7, 1),
    )
