"""The pipeline contract (``contract/pipeline.json``), as the DAG side reads it.

One file declares what the DAGs and the task images share: the stages and their images, the data layout, the
raw schema, every option the DAGs pass to a CLI (name, type, default, bounds, help), the gate metrics, the
model-reference grammar and the default names. The images bundle the same file (``images/common/src/contract.ts``);
tests on both sides hold the code to it. Read once per process with the standard library: DAG files import this
at every parse.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

CONTRACT_FILE = Path(__file__).resolve().parent.parent / "contract" / "pipeline.json"

CONTRACT: dict[str, Any] = json.loads(CONTRACT_FILE.read_text(encoding="utf-8"))

NAMES: dict[str, str] = CONTRACT["names"]
DATA_DIR: str = CONTRACT["data_dir"]
# Which task try a container is: the variables the operator factory sets, the tags and container names they make.
TASK_IDENTITY: dict[str, str] = CONTRACT["task_identity"]
IMAGES: tuple[str, ...] = tuple(CONTRACT["images"])
STAGES: dict[str, dict[str, Any]] = CONTRACT["stages"]
LAYOUT: dict[str, str] = CONTRACT["layout"]
GATE_METRICS: tuple[str, ...] = tuple(CONTRACT["gate_metrics"])

RAW = CONTRACT["raw_schema"]
FEATURES: tuple[str, ...] = tuple(f["name"] for f in RAW["features"])


def layout_path(key: str, ds: str) -> str:
    """``key`` of the layout for a run date, relative to the data folder (``raw/2026-11-20/data.csv``)."""
    return LAYOUT[key].replace("{ds}", ds)


def window(ds: str, days: int) -> list[str]:
    """The run dates the window of ``days`` ending at ``ds`` covers, oldest first (the contract's ``window``)."""
    if days < 1:
        raise ValueError(f"days: expected at least 1, got {days}")
    end = date.fromisoformat(ds)
    return [(end - timedelta(days=back)).isoformat() for back in range(days - 1, -1, -1)]


# ---- options: one entry per CLI option the DAGs pass, grouped as the stages take them ----------------------

OPTION_GROUPS: dict[str, dict[str, dict[str, Any]]] = CONTRACT["options"]


def option(name: str) -> dict[str, Any]:
    """A contract option, its enum spelled out when it comes from another section."""
    for group in OPTION_GROUPS.values():
        if name in group:
            spec = dict(group[name])
            if spec.get("enum_from") == "gate_metrics":
                spec["enum"] = list(GATE_METRICS)
            return spec
    raise KeyError(f"{name!r} is not an option of {CONTRACT_FILE.name}")


def cli_name(name: str) -> str:
    """``learning_rate`` -> ``--learning-rate``: how the images spell a contract option."""
    return "--" + name.replace("_", "-")


_SCHEMA_KEYS = ("type", "enum", "minimum", "maximum", "exclusiveMinimum", "pattern")


def params(group: str, **defaults: Any) -> dict[str, Any]:
    """Fresh Airflow Params of an option group, with the contract's defaults (or the deployment's, ``defaults``),
    bounds and help (a Param holds its value, so each DAG gets its own)."""
    from airflow.sdk import Param  # here, not at the top: the images' tests import this module without Airflow

    unknown = set(defaults) - set(OPTION_GROUPS[group])
    if unknown:
        raise KeyError(f"not options of the group {group!r}: {sorted(unknown)}")
    out = {}
    for name in OPTION_GROUPS[group]:
        spec = option(name)
        schema = {k: spec[k] for k in _SCHEMA_KEYS if k in spec}
        if "enum" in schema:
            schema.pop("type")
        families = f" ({', '.join(spec['families'])})" if "families" in spec else ""
        out[name] = Param(defaults.get(name, spec["default"]), description=spec["help"] + families, **schema)
    return out


def cli_args(group: str) -> list[str]:
    """``[--option, "{{ params.<name> }}", ...]`` for each option of a group: rendered per run from the Params."""
    return [arg for name in OPTION_GROUPS[group] for arg in (cli_name(name), f"{{{{ params.{name} }}}}")]


# ---- model references -----------------------------------------------------------------------------------------

_REF = CONTRACT["model_ref"]
REGISTRY_PREFIX: str = _REF["registry_prefix"]
MODEL_NAME = re.compile(_REF["name"])
MODEL_ALIAS = re.compile(_REF["alias"])
BY_ALIAS = re.compile(f"{re.escape(REGISTRY_PREFIX)}({_REF['name']})@({_REF['alias']})")
BY_VERSION = re.compile(f"{re.escape(REGISTRY_PREFIX)}({_REF['name']})/({_REF['version']})")


def by_version(name: str, version: str | int) -> str:
    return _REF["by_version"].format(name=name, version=version)


def by_alias(name: str, alias: str) -> str:
    return _REF["by_alias"].format(name=name, alias=alias)
