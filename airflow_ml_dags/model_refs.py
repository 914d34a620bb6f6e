"""What the Variable ``model_ref`` may name, and how predict's command line spells it.

Two kinds, as the predict image takes them:

* a registry reference, ``models:/<name>@<alias>`` or ``models:/<name>/<version>``, resolved by MLflow;
* a model folder relative to the data folder, e.g. ``models/2026-11-20``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from airflow_ml_dags.paths import container_path

REGISTRY_PREFIX = "models:/"

# The grammar the images accept (their shared MLflow client); MLflow itself refuses "/" and ":" in names
# and anything but letters, digits, "_" and "-" in aliases.
_BY_VERSION = re.compile(r"models:/([^/:@\s]+)/([1-9][0-9]*)")
_BY_ALIAS = re.compile(r"models:/([^/:@\s]+)@([A-Za-z0-9_-]+)")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")

USAGE = "expected models:/<name>@<alias>, models:/<name>/<version> or a folder relative to the data folder"


# How the predict DAG reads the Variable, rendered when a task runs and never at parse time. The default is
# the DAG's ``default_model_ref`` macro (see ``macros``); the sensor and predict share the one expression.
_MODEL_REF_EXPR = "var.value.get('model_ref', default_model_ref)"
MODEL_REF_TEMPLATE = "{{ " + _MODEL_REF_EXPR + " }}"
MODEL_ARG_TEMPLATE = "{{ model_arg(" + _MODEL_REF_EXPR + ") }}"


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
        if match := _BY_ALIAS.fullmatch(ref):
            return RegistryRef(uri=ref, name=match[1], alias=match[2])
        if match := _BY_VERSION.fullmatch(ref):
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


def model_arg(ref: object) -> str:
    """The Jinja macro behind predict's ``--model``: registry references pass through, folders become the
    path a task container sees."""
    parsed = parse_model_ref(ref)
    return parsed.uri if isinstance(parsed, RegistryRef) else parsed.container


def macros(default_model_ref: str) -> dict[str, object]:
    """The user-defined macros the two templates above need."""
    return {"model_arg": model_arg, "default_model_ref": default_model_ref}
