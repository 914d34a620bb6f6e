"""Sensors that wait for exactly what the next task reads: the raw files of some days, and the model.

FileSensor watches one path (or glob), but ``prepare --days N`` reads two files for each of N days, with N a
run-time Param: so RawDataSensor renders the list per run (the contract's layout and window) and is satisfied
only when every file is there. ModelSensor waits for the model the Variable ``model_ref`` names, in the registry
or in the data folder, and resolves it once: an alias becomes the version it points at, and predict scores
exactly that version. Both look at files through the ``fs_default`` connection, whose ``path`` is the data
folder as Airflow sees it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.standard.hooks.filesystem import FSHook
from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.sdk.exceptions import AirflowFailException

from airflow_ml_dags import contract
from airflow_ml_dags.model_refs import MODEL_REF_TEMPLATE, FolderRef, ModelRefError, RegistryRef, parse_model_ref
from airflow_ml_dags.paths import raw_files
from airflow_ml_dags.registry import RegistryError, RegistryUnavailable, find_model_version
from airflow_ml_dags.settings import Settings, load_settings

if TYPE_CHECKING:
    from airflow.sdk import Context

# What a model folder holds once train and validate are done (the contract's layout).
MANIFEST_JSON = os.path.basename(contract.LAYOUT["model_manifest"])
METRICS_JSON = os.path.basename(contract.LAYOUT["model_metrics"])


def data_folder(fs_conn_id: str) -> str:
    """The data folder as the Airflow process sees it: the connection's ``path``, which must be absolute."""
    base = FSHook(fs_conn_id).get_path()
    if not base or not os.path.isabs(base):
        # Retrying cannot fix a connection that names no folder: fail at once with what to set.
        raise AirflowFailException(
            f"connection {fs_conn_id!r}: expected an absolute 'path' extra (the data folder as "
            f"Airflow sees it), got {base!r}"
        )
    return base


class RawDataSensor(BaseSensorOperator):
    """Waits until the layout's ``keys`` (``raw_data``, ``raw_target``) exist for each of the last ``days`` days."""

    template_fields: Sequence[str] = ("ds", "days", "fs_conn_id")
    ui_color = "#91818a"

    def __init__(
        self,
        *,
        keys: Sequence[str],
        days: int | str = 1,
        ds: str | None = None,
        fs_conn_id: str = "fs_default",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        # The run date, templated, when it is not the logical date (a run an Asset event started has none).
        self.ds = ds
        unknown = [k for k in keys if k not in contract.LAYOUT]
        if not keys or unknown:
            raise ValueError(f"keys: expected names of the contract's layout, got {list(keys)!r}")
        self.keys = tuple(keys)
        self.days = days
        self.fs_conn_id = fs_conn_id

    def expected_files(self, ds: str) -> list[str]:
        try:
            days = int(self.days)
        except (TypeError, ValueError):
            raise AirflowFailException(f"days: expected an integer, got {self.days!r}") from None
        return raw_files(ds, days, self.keys)

    def poke(self, context: Context) -> bool:
        base = data_folder(self.fs_conn_id)
        missing = [f for f in self.expected_files(self.ds or context["ds"]) if not os.path.isfile(os.path.join(base, f))]
        if missing:
            self.log.info("Waiting under %s for %s", base, ", ".join(missing))
            return False
        return True


class ModelSensor(BaseSensorOperator):
    """Waits until the model ``model_ref`` names can be loaded.

    * ``models:/<name>@<alias>`` or ``models:/<name>/<version>``: until MLflow (at ``mlflow_uri``, as the
      Airflow process reaches it) has that alias or version, READY. No answer, or "not found", means keep
      waiting; an answer that waiting cannot change fails the task.
    * a folder relative to the data folder: until it holds a readable ``manifest.json`` with every file it
      lists, and the ``metrics.json`` validate writes (so a model that was never validated is not used).

    A malformed ``model_ref`` fails at once. When done, the sensor pushes what it found to XCom: ``model_ref``
    as given, and ``resolved``, what predict scores: ``models:/<name>/<version>`` for any registry reference
    (so an alias moved after the check does not change the model scored), the folder as a task container sees
    it for a folder.
    """

    template_fields: Sequence[str] = ("model_ref", "fs_conn_id")
    ui_color = "#8a9a5b"

    def __init__(
        self,
        *,
        model_ref: str,
        mlflow_uri: str | None,
        fs_conn_id: str = "fs_default",
        request_timeout: float = 10.0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.model_ref = model_ref
        self.mlflow_uri = mlflow_uri
        self.fs_conn_id = fs_conn_id
        self.request_timeout = request_timeout

    def poke(self, context: Context) -> bool | PokeReturnValue:
        try:
            ref = parse_model_ref(self.model_ref)
        except ModelRefError as err:
            raise AirflowFailException(str(err)) from None
        if isinstance(ref, RegistryRef):
            return self._poke_registry(ref)
        return self._poke_folder(ref)

    def _poke_registry(self, ref: RegistryRef) -> bool | PokeReturnValue:
        if not self.mlflow_uri:
            raise AirflowFailException(
                f"model_ref {ref.uri!r} names an MLflow model, but neither AIRFLOW_MLFLOW_URI nor "
                "MLFLOW_TRACKING_URI is set: set one, or set model_ref to a model folder"
            )
        try:
            version = find_model_version(self.mlflow_uri, ref, timeout=self.request_timeout)
        except RegistryUnavailable as err:
            self.log.warning("MLflow did not answer, will ask again: %s", err)
            return False
        except RegistryError as err:
            raise AirflowFailException(f"model_ref {ref.uri!r}: {err}") from None
        if version is None:
            self.log.info("Waiting for %s: MLflow at %s has no such model version yet", ref.uri, self.mlflow_uri)
            return False
        status = version.get("status")
        if status == "FAILED_REGISTRATION":
            raise AirflowFailException(
                f"model_ref {ref.uri!r}: version {version['version']} failed registration "
                f"({version.get('status_message') or 'no message'})"
            )
        if status != "READY":
            self.log.info("Waiting for %s: version %s is %s", ref.uri, version["version"], status)
            return False
        self.log.info("Found %s: version %s (run %s)", ref.uri, version["version"], version.get("run_id"))
        return PokeReturnValue(
            is_done=True,
            xcom_value={
                "model_ref": ref.uri,
                "resolved": contract.by_version(ref.name, version["version"]),
                "version": version["version"],
                "run_id": version.get("run_id"),
            },
        )

    def _poke_folder(self, ref: FolderRef) -> bool | PokeReturnValue:
        folder = os.path.join(data_folder(self.fs_conn_id), ref.relative)
        missing = [name for name in (MANIFEST_JSON, METRICS_JSON) if not os.path.isfile(os.path.join(folder, name))]
        if missing:
            self.log.info("Waiting in %s for %s", folder, ", ".join(missing))
            return False
        # The images write each file atomically (the model folder as a whole): a file that is there but
        # unreadable, or a listed file that is not, will not mend by waiting.
        manifest = _json_object(os.path.join(folder, MANIFEST_JSON))
        files = manifest.get("files")
        if not isinstance(manifest.get("family"), str) or not isinstance(files, list) or not files:
            raise AirflowFailException(
                f"{os.path.join(folder, MANIFEST_JSON)}: expected a model manifest with 'family' and 'files'"
            )
        absent = [f for f in files if not isinstance(f, str) or not os.path.isfile(os.path.join(folder, f))]
        if absent:
            raise AirflowFailException(
                f"{folder}: files listed in {MANIFEST_JSON} are missing: {', '.join(map(str, absent))}"
            )
        metrics = _json_object(os.path.join(folder, METRICS_JSON))
        accuracy = metrics.get("accuracy")
        if isinstance(accuracy, bool) or not isinstance(accuracy, (int, float)):
            raise AirflowFailException(
                f"{os.path.join(folder, METRICS_JSON)}: expected validate's metrics, 'accuracy' a number, "
                f"got {accuracy!r}"
            )
        self.log.info("Found model folder %s (%s, accuracy %s)", folder, manifest["family"], accuracy)
        return PokeReturnValue(
            is_done=True,
            xcom_value={"model_ref": ref.relative, "resolved": ref.container, "family": manifest["family"]},
        )


def _json_object(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except ValueError as err:
        raise AirflowFailException(f"{path}: not valid JSON ({err})") from None
    if not isinstance(value, dict):
        raise AirflowFailException(f"{path}: expected a JSON object, got {type(value).__name__}")
    return value


def wait_for_files(
    task_id: str,
    keys: Sequence[str],
    days: int | str = 1,
    *,
    settings: Settings | None = None,
    **kwargs,
) -> RawDataSensor:
    """The file sensor in reschedule mode, so a waiting sensor holds no worker slot between pokes: the layout's
    ``keys`` (the day's raw files, its predictions) for each day of the window."""
    settings = settings or load_settings()
    return RawDataSensor(
        task_id=task_id,
        keys=keys,
        days=days,
        mode="reschedule",
        poke_interval=settings.sensor_poke_interval,
        timeout=settings.sensor_timeout,
        **kwargs,
    )


def wait_for_model(
    task_id: str,
    model_ref: str = MODEL_REF_TEMPLATE,
    *,
    settings: Settings | None = None,
    **kwargs,
) -> ModelSensor:
    """The model sensor in reschedule mode; it asks MLflow at the address the Airflow process uses."""
    settings = settings or load_settings()
    return ModelSensor(
        task_id=task_id,
        model_ref=model_ref,
        mlflow_uri=settings.airflow_mlflow_uri,
        mode="reschedule",
        poke_interval=settings.sensor_poke_interval,
        timeout=settings.sensor_timeout,
        **kwargs,
    )
