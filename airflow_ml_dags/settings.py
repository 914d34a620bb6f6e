"""Deployment settings, read from the environment once per DAG parse.

Three path spaces are kept apart:

* ``HOST_DATA_DIR``: the data folder as the Docker engine sees it; DockerOperator binds it at ``/data``. Or,
  with ``DATA_VOLUME``, a named Docker volume instead, mounted at ``/data`` (no host path at all: workers on
  several hosts share one volume, e.g. the local driver's NFS options). The Airflow containers that run sensors
  mount the same volume where ``fs_default`` points.
* the folder as the Airflow process sees it: the ``fs_default`` connection's ``path``
  (``AIRFLOW_CONN_FS_DEFAULT``); only sensors look there.
* ``/data``: the same folder inside a task container; every command line names paths relative to it.

MLflow has two addresses for the same reason: task containers reach it by ``MLFLOW_TRACKING_URI`` (a name on
their Docker network), the Airflow process itself by ``AIRFLOW_MLFLOW_URI`` (e.g. ``http://127.0.0.1:5000``
when Airflow runs on the host), which defaults to the first.

Variables (all optional but HOST_DATA_DIR or DATA_VOLUME in a deployment):

* ``HOST_DATA_DIR``: absolute; default ``data/`` of the checkout; unused when ``DATA_VOLUME`` is set
* ``DATA_VOLUME``: a Docker volume name (letters, digits, ``_ . -``); when set, task containers mount it at
  ``/data`` instead of binding ``HOST_DATA_DIR``. The volume must be writable by the task user (uid 1000)
* ``IMAGE_PREFIX`` (default ``airflow-ml-dags``), ``IMAGE_VERSION`` (default: the checkout's VERSION file):
  images are ``{IMAGE_PREFIX}/{stage}:{IMAGE_VERSION}``
* ``DOCKER_URL`` (default ``DOCKER_HOST``, then the local socket; in docker compose the socket proxy,
  ``tcp://docker-proxy:2375``), ``DOCKER_NETWORK`` (default: Docker's bridge)
* ``MLFLOW_TRACKING_URI`` (http or https), ``MLFLOW_EXPERIMENT_NAME``: passed on to the task containers when set
* ``MLFLOW_REGISTERED_MODEL`` (default ``airflow-ml-dags-classifier``): passed on to the task containers; the
  model predict uses by default is ``models:/<it>@production``
* ``AIRFLOW_MLFLOW_URI`` (default ``MLFLOW_TRACKING_URI``): MLflow as the Airflow process reaches it
* ``MLFLOW_UI_URL`` (default ``AIRFLOW_MLFLOW_URI``): MLflow as a reviewer's browser reaches it, for the links of
  the approval request (in docker compose the published port, not the containers' ``http://mlflow:5000``)
* ``TASK_USER``: user the containers run as (default: the images' own, uid 1000)
* ``TASK_SECRET_ENV``: names of variables of this environment, separated by commas, that the task containers get
  as private environment (DockerOperator's ``private_environment``: neither templated nor rendered in the UI nor
  serialized with the DAG); each must be set
* ``TASK_RETRIES`` (2), ``SENSOR_POKE_INTERVAL_SECONDS`` (60), ``SENSOR_TIMEOUT_SECONDS`` (7200)
* ``BACKFILL_DAYS`` (7): how many days, today included, a fresh deployment runs
* ``PIPELINE_START_DATE``, ``PIPELINE_END_DATE`` (YYYY-MM-DD, both included): a fixed window of days instead of
  the last BACKFILL_DAYS; the end needs the start
* ``PIPELINE_CATCHUP`` (true): the scheduler runs the window's past days by itself; false: only what comes
  due from now on, a window's past days then come through Airflow's backfill (docs/scaling.md)
* ``GENERATE_ROWS`` (5000): default rows per generated day
* ``GENERATE_DRIFT_FROM`` (YYYY-MM-DD, default none): generate_data's default ``drift_from``: from that day on
  the world shifts suddenly, which the monitor should catch (a demo of the alarm and the early retrain)

Failure alerts (``airflow_ml_dags.alerts``), both channels optional; with neither, a failed task says in its log
that no alert was sent:

* ``ALERT_WEBHOOK_URL``: http(s) URL of a Slack-compatible incoming webhook (``{"text": ...}`` is posted to it)
* ``ALERT_EMAIL_TO``: recipients, separated by commas; mail goes out through Airflow's SMTP connection
  (``smtp_default``, e.g. ``AIRFLOW_CONN_SMTP_DEFAULT``, or the one ``[email] email_conn_id`` names), which holds
  the server, its credentials and TLS choices
* ``ALERT_EMAIL_FROM``: sender address (default: the connection's ``from_email`` extra)
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from airflow_ml_dags import contract

# The task images, the folder they read and write (their CLIs' --data-dir default) and the default names are
# the contract's.
IMAGES = contract.IMAGES
CONTAINER_DATA_DIR = contract.DATA_DIR
DEFAULT_IMAGE_PREFIX = contract.NAMES["image_prefix"]
DEFAULT_REGISTERED_MODEL = contract.NAMES["registered_model"]
# The alias the validate image's quality gate moves and promote_model sets: what predict uses by default.
PRODUCTION_ALIAS = contract.NAMES["production_alias"]

_VERSION_FILE = Path(__file__).resolve().parent.parent / "VERSION"
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Deliberately loose: the SMTP server has the last word; this only catches what cannot be an address (a bare
# name, a list joined by spaces or semicolons, a missing domain).
_EMAIL = re.compile(r"[^@\s,;<>]+@[^@\s,;<>]+")


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
    generate_drift_from: date | None
    # Out of the repr: webhook URLs carry their secret.
    alert_webhook_url: str | None = field(default=None, repr=False)
    alert_email_to: tuple[str, ...] = ()
    alert_email_from: str | None = None
    # (name, value) pairs for the task containers' private environment; out of the repr, being secrets.
    task_secrets: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    mlflow_ui_url: str | None = None
    catchup: bool = True
    data_volume: str | None = None

    def image(self, name: str) -> str:
        """The full name of one of the contract's task images."""
        if name not in IMAGES:
            raise SettingsError(f"unknown image {name!r}: expected one of {', '.join(IMAGES)}")
        return f"{self.image_prefix}/{name}:{self.image_version}"

    @property
    def default_model_ref(self) -> str:
        """What predict uses while the Variable ``model_ref`` is unset: the registry's production model."""
        return contract.by_alias(self.mlflow_registered_model, PRODUCTION_ALIAS)

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

    def task_private_environment(self) -> dict[str, str]:
        """The secrets of every task container (``TASK_SECRET_ENV``), kept apart from ``task_environment``."""
        return dict(self.task_secrets)


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


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in ("true", "false"):
        raise SettingsError(f"{name}: expected true or false, got {raw!r}")
    return raw == "true"


_DOCKER_SCHEMES = ("unix", "tcp", "http", "https", "ssh")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Docker's own rule for a volume name; it also keeps the name apart from a bind source, which starts with '/'.
_VOLUME_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")


def _docker_url(env: Mapping[str, str]) -> str:
    name = "DOCKER_URL" if _optional(env, "DOCKER_URL") else "DOCKER_HOST"
    raw = _optional(env, name)
    if raw is None:
        return "unix://var/run/docker.sock"
    # docker-py would take a bare host:port for tcp, and fail only when a task runs; one spelling, checked here.
    parts = urlsplit(raw)
    if parts.scheme not in _DOCKER_SCHEMES or not (parts.netloc or parts.path):
        raise SettingsError(f"{name}: expected a unix://, tcp://, http(s):// or ssh:// URL, got {raw!r}")
    return raw


def _volume(env: Mapping[str, str], name: str) -> str | None:
    raw = _optional(env, name)
    if raw is not None and not _VOLUME_NAME.fullmatch(raw):
        raise SettingsError(f"{name}: expected a Docker volume name (letters, digits, _ . -), got {raw!r}")
    return raw


def _task_secrets(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    raw = _optional(env, "TASK_SECRET_ENV")
    if raw is None:
        return ()
    secrets = []
    for name in (n.strip() for n in raw.split(",")):
        if not _ENV_NAME.fullmatch(name):
            raise SettingsError(f"TASK_SECRET_ENV: expected variable names separated by commas, got {raw!r}")
        value = env.get(name, "")
        if not value:
            # Rather here than as a task that fails later on a missing credential, with a vaguer message.
            raise SettingsError(f"TASK_SECRET_ENV: names {name}, which is not set")
        secrets.append((name, value))
    return tuple(secrets)


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


def _webhook_url(env: Mapping[str, str], name: str) -> str | None:
    raw = _optional(env, name)
    if raw is None:
        return None
    # Webhook services put their secret in the path or the query, so both stay as they are.
    try:
        parts = urlsplit(raw)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.fragment
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        valid = False
    if not valid:
        # The value itself may be a secret: name the variable and what is wrong, not the URL.
        raise SettingsError(f"{name}: expected an http(s) URL such as https://hooks.example.com/services/T0/B0/x")
    return raw


def _emails(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = _optional(env, name)
    if raw is None:
        return ()
    addresses = tuple(a.strip() for a in raw.split(","))
    for address in addresses:
        if not _EMAIL.fullmatch(address):
            raise SettingsError(f"{name}: expected e-mail addresses separated by commas, got {address!r}")
    return addresses


def _sender(env: Mapping[str, str], name: str) -> str | None:
    raw = _optional(env, name)
    if raw is not None and not _EMAIL.fullmatch(raw):
        raise SettingsError(f"{name}: expected one e-mail address, got {raw!r}")
    return raw


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
    if not contract.MODEL_NAME.fullmatch(registered_model):
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
        image_prefix=env.get("IMAGE_PREFIX", "").strip() or DEFAULT_IMAGE_PREFIX,
        image_version=env.get("IMAGE_VERSION", "").strip() or _default_version(),
        docker_url=_docker_url(env),
        docker_network=_optional(env, "DOCKER_NETWORK"),
        mlflow_tracking_uri=tracking_uri,
        mlflow_experiment_name=_optional(env, "MLFLOW_EXPERIMENT_NAME"),
        mlflow_registered_model=registered_model,
        airflow_mlflow_uri=_http_uri(env, "AIRFLOW_MLFLOW_URI") or tracking_uri,
        mlflow_ui_url=_http_uri(env, "MLFLOW_UI_URL") or _http_uri(env, "AIRFLOW_MLFLOW_URI") or tracking_uri,
        task_user=_optional(env, "TASK_USER"),
        task_retries=_int(env, "TASK_RETRIES", 2, 0),
        sensor_poke_interval=_int(env, "SENSOR_POKE_INTERVAL_SECONDS", 60, 1),
        sensor_timeout=_int(env, "SENSOR_TIMEOUT_SECONDS", 2 * 60 * 60, 1),
        backfill_days=_int(env, "BACKFILL_DAYS", 7, 1),
        pipeline_start_date=start,
        pipeline_end_date=end,
        generate_rows=_int(env, "GENERATE_ROWS", 5000, 1),
        generate_drift_from=_date(env, "GENERATE_DRIFT_FROM"),
        alert_webhook_url=_webhook_url(env, "ALERT_WEBHOOK_URL"),
        alert_email_to=_emails(env, "ALERT_EMAIL_TO"),
        alert_email_from=_sender(env, "ALERT_EMAIL_FROM"),
        task_secrets=_task_secrets(env),
        catchup=_bool(env, "PIPELINE_CATCHUP", True),
        data_volume=_volume(env, "DATA_VOLUME"),
    )
