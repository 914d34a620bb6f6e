"""Deployment settings, read from the environment once per DAG parse.

Three path spaces are kept apart:

* ``HOST_DATA_DIR``: the data folder as the Docker engine sees it; DockerOperator binds it at ``/data``.
* the folder as the Airflow process sees it: the ``fs_default`` connection's ``path``
  (``AIRFLOW_CONN_FS_DEFAULT``); only sensors look there.
* ``/data``: the same folder inside a task container; every command line names paths relative to it.

MLflow has two addresses for the same reason: task containers reach it by ``MLFLOW_TRACKING_URI`` (a name on
their Docker network), the Airflow process itself by ``AIRFLOW_MLFLOW_URI`` (e.g. ``http://127.0.0.1:5000``
when Airflow runs on the host), which defaults to the first.

Variables (all optional but HOST_DATA_DIR in a deployment):

* ``HOST_DATA_DIR``: absolute; default ``data/`` of the checkout
* ``IMAGE_PREFIX`` (default ``airflow-ml-dags``), ``IMAGE_VERSION`` (default: the checkout's VERSION file):
  images are ``{IMAGE_PREFIX}/{stage}:{IMAGE_VERSION}``
* ``DOCKER_URL`` (default ``DOCKER_HOST``, then the local socket), ``DOCKER_NETWORK`` (default: Docker's bridge)
* ``MLFLOW_TRACKING_URI`` (http or https), ``MLFLOW_EXPERIMENT_NAME``: passed on to the task containers when set
* ``MLFLOW_REGISTERED_MODEL`` (default ``airflow-ml-dags-classifier``): passed on to the task containers; the
  model predict uses by default is ``models:/<it>@production``
* ``AIRFLOW_MLFLOW_URI`` (default ``MLFLOW_TRACKING_URI``): MLflow as the Airflow process reaches it
* ``TASK_USER``: user the containers run as (default: the images' own, uid 1000)
* ``TASK_RETRIES`` (2), ``SENSOR_POKE_INTERVAL_SECONDS`` (60), ``SENSOR_TIMEOUT_SECONDS`` (7200)
* ``BACKFILL_DAYS`` (7): how many days, today included, a fresh deployment runs
* ``PIPELINE_START_DATE``, ``PIPELINE_END_DATE`` (YYYY-MM-DD, both included): a fixed window of days instead of
  the last BACKFILL_DAYS; the end needs the start
* ``GENERATE_ROWS`` (5000): default rows per generated day
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

STAGES = ("generate", "prepare", "train", "validate", "predict")

# The folder every task image reads and writes (its CLI's --data-dir default).
CONTAINER_DATA_DIR = "/data"

DEFAULT_REGISTERED_MODEL = "airflow-ml-dags-classifier"
# The alias the validate image's quality gate moves and promote_model sets: what predict uses by default.
PRODUCTION_ALIAS = "production"

_VERSION_FILE = Path(__file__).resolve().parent.parent / "VERSION"

# MLflow refuses "/" and ":" in model names; "@" would make models:/<name>@<alias> ambiguous.
_MODEL_NAME = re.compile(r"[^/:@\s]+")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


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
    mlflow_experiment_name: str | None
    mlflow_registered_model: str
    airflow_mlflow_uri: str | None
    task_user: str | None
    task_retries: int
    sensor_poke_interval: int
    sensor_timeout: int
    backfill_days: int
    pipeline_start_date: date | None
    pipeline_end_date: date | None
    generate_rows: int

    def image(self, stage: str) -> str:
        if stage not in STAGES:
            raise SettingsError(f"unknown stage {stage!r}: expected one of {', '.join(STAGES)}")
        return f"{self.image_prefix}/{stage}:{self.image_version}"

    @property
    def default_model_ref(self) -> str:
        """What predict uses while the Variable ``model_ref`` is unset: the registry's production model."""
        return f"models:/{self.mlflow_registered_model}@{PRODUCTION_ALIAS}"

    def task_environment(self) -> dict[str, str]:
        """The environment of every task container: where MLflow is and what to log and register there.

        The registered model's name always goes along, so the images and the default ``model_ref`` cannot
        name two different models.
        """
        env = {"MLFLOW_REGISTERED_MODEL": self.mlflow_registered_model}
        if self.mlflow_tracking_uri:
            env["MLFLOW_TRACKING_URI"] = self.mlflow_tracking_uri
        if self.mlflow_experiment_name:
            env["MLFLOW_EXPERIMENT_NAME"] = self.mlflow_experiment_name
        return env


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


def _http_uri(env: Mapping[str, str], name: str) -> str | None:
    raw = _optional(env, name)
    if raw is None:
        return None
    # The images talk to MLflow over HTTP only (artifacts are served by the tracking server), and so does
    # the model sensor: a file: or databricks URI would fail much later, in a task, with a vaguer message.
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise SettingsError(f"{name}: expected an http(s) URL such as http://mlflow:5000, got {raw!r}")
    return raw.rstrip("/")


def _date(env: Mapping[str, str], name: str) -> date | None:
    raw = _optional(env, name)
    if raw is None:
        return None
    # fromisoformat alone would also take 20261102 or 2026-W45-1; one spelling keeps .env files readable.
    try:
        if not _ISO_DATE.fullmatch(raw):
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        raise SettingsError(f"{name}: expected a date YYYY-MM-DD, got {raw!r}") from None


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
    registered_model = _optional(env, "MLFLOW_REGISTERED_MODEL") or DEFAULT_REGISTERED_MODEL
    if not _MODEL_NAME.fullmatch(registered_model):
        raise SettingsError(
            f"MLFLOW_REGISTERED_MODEL: expected a model name without '/', ':', '@' or spaces, got {registered_model!r}"
        )
    tracking_uri = _http_uri(env, "MLFLOW_TRACKING_URI")
    start, end = _date(env, "PIPELINE_START_DATE"), _date(env, "PIPELINE_END_DATE")
    if end is not None and start is None:
        # An end alone would leave the start moving with the clock, so the window would shrink to nothing.
        raise SettingsError("PIPELINE_END_DATE: set PIPELINE_START_DATE too (the window's first day)")
    if start is not None and end is not None and end < start:
        raise SettingsError(f"PIPELINE_END_DATE: {end} is before PIPELINE_START_DATE {start}")
    return Settings(
        host_data_dir=host_data_dir,
        image_prefix=env.get("IMAGE_PREFIX", "").strip() or "airflow-ml-dags",
        image_version=env.get("IMAGE_VERSION", "").strip() or _default_version(),
        docker_url=_optional(env, "DOCKER_URL") or _optional(env, "DOCKER_HOST") or "unix://var/run/docker.sock",
        docker_network=_optional(env, "DOCKER_NETWORK"),
        mlflow_tracking_uri=tracking_uri,
        mlflow_experiment_name=_optional(env, "MLFLOW_EXPERIMENT_NAME"),
        mlflow_registered_model=registered_model,
        airflow_mlflow_uri=_http_uri(env, "AIRFLOW_MLFLOW_URI") or tracking_uri,
        task_user=_optional(env, "TASK_USER"),
        task_retries=_int(env, "TASK_RETRIES", 2, 0),
        sensor_poke_interval=_int(env, "SENSOR_POKE_INTERVAL_SECONDS", 60, 1),
        sensor_timeout=_int(env, "SENSOR_TIMEOUT_SECONDS", 2 * 60 * 60, 1),
        backfill_days=_int(env, "BACKFILL_DAYS", 7, 1),
        pipeline_start_date=start,
        pipeline_end_date=end,
        generate_rows=_int(env, "GENERATE_ROWS", 5000, 1),
    )
