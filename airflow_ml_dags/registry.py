"""The one MLflow question the Airflow process asks: which model version does a registry reference name?

Plain urllib on MLflow's REST API (``/api/2.0/mlflow``): the mlflow package is heavy, and its pins clash with
Airflow's. The answers sort into four kinds, because the model sensor treats them differently:

* the version (a dict as MLflow returns it);
* ``None``: the registry does not have it yet (no such model, alias or version), so keep waiting;
* ``RegistryUnavailable``: no answer or a 5xx, which may pass, so keep waiting too;
* ``RegistryError``: any other answer, which waiting cannot fix (wrong URL, refused host, bad request).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode

from airflow_ml_dags.model_refs import RegistryRef

API = "/api/2.0/mlflow"
NOT_FOUND = "RESOURCE_DOES_NOT_EXIST"


class RegistryUnavailable(Exception):
    """MLflow did not answer, or answered with a server error: worth asking again later."""


class RegistryError(Exception):
    """MLflow answered something that asking again will not change."""


class _Answer:
    def __init__(self, url: str, status: int, body: Any) -> None:
        self.url, self.status, self.body = url, status, body

    @property
    def error_code(self) -> str | None:
        return self.body.get("error_code") if isinstance(self.body, dict) else None

    def describe(self) -> str:
        message = self.body.get("message") if isinstance(self.body, dict) else None
        detail = f"{self.error_code}: {message}" if message else repr(self.body)[:300]
        return f"GET {self.url}: HTTP {self.status} ({detail})"


def _get(base_uri: str, endpoint: str, params: dict[str, str], timeout: float) -> _Answer:
    url = f"{base_uri.rstrip('/')}{API}/{endpoint}?{urlencode(params)}"
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    except (urllib.error.URLError, OSError) as err:
        # Refused, unresolvable or timed out: the server may be starting or restarting.
        raise RegistryUnavailable(f"GET {url}: {getattr(err, 'reason', err)}") from err
    try:
        body: Any = json.loads(raw)
    except ValueError:
        body = raw.decode("utf-8", "replace")
    answer = _Answer(url, status, body)
    if status >= 500:
        raise RegistryUnavailable(answer.describe())
    if status == 200 and not isinstance(body, dict):
        raise RegistryError(f"{answer.describe()}: expected a JSON object; is this an MLflow tracking server?")
    return answer


def _model_version(answer: _Answer) -> dict[str, Any]:
    version = answer.body.get("model_version")
    if not isinstance(version, dict) or not version.get("version"):
        raise RegistryError(f"{answer.describe()}: no model_version in the answer")
    return version


def find_model_version(base_uri: str, ref: RegistryRef, timeout: float = 10.0) -> dict[str, Any] | None:
    """The model version ``ref`` names, or None while the registry does not have it."""
    if ref.version is not None:
        answer = _get(base_uri, "model-versions/get", {"name": ref.name, "version": ref.version}, timeout)
        if answer.status == 404 and answer.error_code == NOT_FOUND:
            return None
        if answer.status != 200:
            raise RegistryError(answer.describe())
        return _model_version(answer)

    answer = _get(base_uri, "registered-models/alias", {"name": ref.name, "alias": ref.alias or ""}, timeout)
    if answer.status == 200:
        return _model_version(answer)
    if answer.status == 404 and answer.error_code == NOT_FOUND:
        return None  # no such registered model
    if answer.status == 400:
        # MLflow answers a missing alias with a 400 INVALID_PARAMETER_VALUE, as it does a malformed request;
        # only the model's own list of aliases tells the two apart without parsing messages.
        model = _get(base_uri, "registered-models/get", {"name": ref.name}, timeout)
        if model.status == 404 and model.error_code == NOT_FOUND:
            return None
        if model.status != 200:
            raise RegistryError(model.describe())
        aliases = (model.body.get("registered_model") or {}).get("aliases") or []
        if ref.alias not in {a.get("alias") for a in aliases if isinstance(a, dict)}:
            return None
    raise RegistryError(answer.describe())
