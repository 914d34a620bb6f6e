"""What the Variable ``model_ref`` may name, and how predict's command line spells it.

Two kinds, as the predict image takes them:

* a registry reference, ``models:/<name>@<alias>`` or ``models:/<name>/<version>``, resolved by MLflow;
* a model folder relative to the data folder, e.g. ``models/2026-11-20``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from airflow_ml_dags.contract import BY_ALIAS, BY_VERSION, REGISTRY_PREFIX
from airflow_ml_dags.paths import container_path

# The grammar is the contract's, which the images' MLflow client parses with too.
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")

USAGE = "expected models:/<name>@<alias>, models:/<name>/<version> or a folder relative to the data folder"


# How the predict DAG reads the Variable, rendered when the sensor runs and never at parse time. The default is
# the DAG's ``default_model_ref`` macro (see ``macros``).
MODEL_REF_TEMPLATE = "{{ var.value.get('model_ref', default_model_ref) }}"


def resolved_template(sensor_task_id: str, key: str) -> str:
    """What the model sensor found, for predict's command line: ``resolved`` (the version or folder to score)
    or ``model_ref`` (as the Variable said it). The Variable is read once, by the sensor."""
    return f"{{{{ ti.xcom_pull(task_ids='{sensor_task_id}')['{key}'] }}}}"


class ModelRefError(ValueError):
    """A model_ref that names nothing predict could load; waiting cannot fix it."""


@dataclass(frozen=True)
class RegistryRef:
    uri: str
    name: str
    alias: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class FolderRef:
    relative: str
    container: str


def parse_model_ref(ref: object) -> RegistryRef | FolderRef:
    """Parses a model_ref; a malformed one raises ModelRefError naming the value and what was expected."""
    if not isinstance(ref, str) or not ref.strip():
        raise ModelRefError(f"model_ref {ref!r}: empty; {USAGE}")
    ref = ref.strip()
    if ref.startswith(REGISTRY_PREFIX):
        if match := BY_ALIAS.fullmatch(ref):
            return RegistryRef(uri=ref, name=match[1], alias=match[2])
        if match := BY_VERSION.fullmatch(ref):
            return RegistryRef(uri=ref, name=match[1], version=match[2])
        raise ModelRefError(f"model_ref {ref!r}: malformed registry reference; {USAGE}")
    if _SCHEME.match(ref):
        # Most likely a mistyped registry reference (models:, model:/, runs:/): as a folder it would only
        # be waited for until the sensor times out.
        raise ModelRefError(f"model_ref {ref!r}: not a registry reference (models:/...); {USAGE}")
    try:
        container = container_path(ref)
    except ValueError as err:
        raise ModelRefError(f"model_ref {err}") from None
    return FolderRef(relative=str(PurePosixPath(ref)), container=container)


def macros(default_model_ref: str) -> dict[str, object]:
    """The user-defined macro the sensor's template needs."""
    return {"default_model_ref": default_model_ref}
