"""What the monitor DAG does with the monitor's verdict: the alarm alert, the retrain request and its run date."""

from __future__ import annotations

import json

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from test_alerts import WebhookReceiver

from conftest import REPO  # noqa: F401 - the conftest sets the environment before Airflow is imported

from airflow_ml_dags.monitoring import RETRAIN_REQUESTED, RUN_DS, act_on_alarms, request_retrain, retrain_ds
from airflow_ml_dags.settings import load_settings

ALARMS = [
    {"subject": "f03", "metric": "psi", "value": 0.41, "threshold": 0.2},
    {"subject": "quality", "metric": "roc_auc", "value": 0.62, "threshold": 0.79},
]


class _TI:
    def __init__(self, result: Any) -> None:
        self.result = result

    def xcom_pull(self, task_ids: str) -> Any:
        assert task_ids == "monitor"
        return self.result


@dataclass
class _Event:
    extra: dict
    timestamp: datetime


@dataclass
class _Outlet:
    extra: dict = field(default_factory=dict)


@pytest.fixture
def webhook():
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


def _settings(webhook_url: str | None):
    env = {"HOST_DATA_DIR": "/srv/ml/data", "IMAGE_VERSION": "1.2.3"}
    return load_settings({**env, "ALERT_WEBHOOK_URL": webhook_url} if webhook_url else env)


def test_a_day_over_a_threshold_alerts_once_naming_day_version_metrics_and_values(webhook):
    check = act_on_alarms(_settings(webhook.url("/hook")))
    result = {"ds": "2026-11-27", "model_version": "3", "alarms": ALARMS, "verdict": "quality drop"}
    assert check(ti=_TI(result), ds="2026-11-27") is True
    assert len(webhook.posts) == 1
    text = webhook.posts[0][1]["text"]
    assert text.startswith("Monitor alarm for 2026-11-27: model version 3, 2 over threshold")
    assert "f03: psi 0.4100 (threshold 0.2000)" in text
    assert "quality: roc_auc 0.6200 (threshold 0.7900)" in text
    assert "monitoring/2026-11-27/report.html" in text


def test_a_quiet_day_sends_nothing_and_skips_the_retrain(webhook):
    check = act_on_alarms(_settings(webhook.url("/hook")))
    assert check(ti=_TI({"ds": "2026-11-27", "model_version": "3", "alarms": []}), ds="2026-11-27") is False
    assert webhook.posts == []


def test_the_result_line_as_the_docker_operator_pushes_it_and_a_model_without_registry_version(webhook):
    check = act_on_alarms(_settings(webhook.url("/hook")))
    result = {"ds": "2026-11-27", "model_version": None, "model_ref": "models/2026-11-22", "alarms": ALARMS[:1]}
    line = json.dumps(result)
    assert check(ti=_TI(line), ds="2026-11-27") is True
    subject = "Monitor alarm for 2026-11-27: model models/2026-11-22, 1 over threshold"
    assert webhook.posts[0][1]["text"].startswith(subject)
    with pytest.raises(ValueError, match="its last output line is not its JSON result"):
        check(ti=_TI("wrote monitoring/2026-11-27/report.json"), ds="2026-11-27")


def test_a_result_without_alarms_is_an_error_not_a_quiet_day():
    with pytest.raises(ValueError, match="expected the monitor's result line with 'alarms'"):
        act_on_alarms(_settings(None))(ti=_TI({"status": "ok"}), ds="2026-11-27")


def test_the_retrain_request_carries_the_alarms_day_and_train_model_takes_it_as_its_run_date():
    outlets = {RETRAIN_REQUESTED: _Outlet()}
    assert request_retrain(ds="2026-11-27", outlet_events=outlets) == "retrain requested for 2026-11-27"
    assert outlets[RETRAIN_REQUESTED].extra == {"ds": "2026-11-27"}
    older = _Event({"ds": "2026-11-25"}, datetime(2026, 11, 25, 1, tzinfo=UTC))
    newer = _Event({"ds": "2026-11-27"}, datetime(2026, 11, 27, 1, tzinfo=UTC))
    assert retrain_ds({RETRAIN_REQUESTED: [newer, older]}) == "2026-11-27"
    with pytest.raises(ValueError, match="neither a logical date nor a retrain request"):
        retrain_ds({})


def test_train_model_renders_its_run_date_from_the_logical_date_or_else_from_the_retrain_request(dagbag):
    """RUN_DS through the DAG's own template environment (its macros, Airflow's undefined handling): a weekly
    run has a logical date and no event; a run the Asset started has the event and no logical date."""
    template = dagbag.dags["train_model"].get_template_env().from_string(RUN_DS)
    request = _Event({"ds": "2026-11-27"}, datetime(2026, 11, 27, 1, tzinfo=UTC))
    assert template.render(ds="2026-11-29", triggering_asset_events={}) == "2026-11-29"
    assert template.render(ds="2026-11-29", triggering_asset_events={RETRAIN_REQUESTED: [request]}) == "2026-11-29"
    assert template.render(triggering_asset_events={RETRAIN_REQUESTED: [request]}) == "2026-11-27"
    assert template.render(ds=None, triggering_asset_events={RETRAIN_REQUESTED: [request]}) == "2026-11-27"
