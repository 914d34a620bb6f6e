"""What the monitor DAG does with the monitor image's verdict, and the Assets that show the pipeline's lineage.

The monitor image measures a day (quality on the day's labels, drift of every feature and of the scores) and
prints its alarms in its result line. Over a threshold, ``act_on_alarms`` sends one alert through the failure
notifier's channels, naming the day, the model version, each metric and its value, and lets ``request_retrain``
run: that task's outlet is ``RETRAIN_REQUESTED``, whose event makes ``train_model`` run without waiting for its
weekly slot (its schedule is the week *or* that Asset).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any

from airflow.sdk import Asset

from airflow_ml_dags import contract
from airflow_ml_dags.alerts import failure_alert
from airflow_ml_dags.settings import Settings


def _layout_asset(name: str, key: str) -> Asset:
    # The folder of the layout entry, under the data folder task containers see.
    folder = contract.LAYOUT[key].split("/{ds}")[0]
    return Asset(name=name, uri=f"file://{contract.DATA_DIR}/{folder}")


RAW_DATA = _layout_asset("raw_data", "raw_data")
MODELS = _layout_asset("models", "model_dir")
PREDICTIONS = _layout_asset("predictions", "predictions")
MONITORING = _layout_asset("monitoring", "monitoring_report")
# Not a file: the monitor's request for a model trained on newer data.
RETRAIN_REQUESTED = Asset(name="retrain_requested", uri="airflow-ml-dags://monitor/retrain")


def _num(value: Any) -> str:
    # Four decimals, as the report page shows them: a PSI of 2.0117, not 2.0116603787089673.
    return f"{value:.4f}" if isinstance(value, int | float) else str(value)


@dataclass(frozen=True)
class AlarmAlert:
    """The message of a day over a threshold, in the channels' three forms."""

    ds: str
    model_version: str | None
    # What predict was told to score: a registry reference, or a model folder when there is no registry.
    model_ref: str | None
    alarms: list[dict[str, Any]]
    report: str

    @property
    def subject(self) -> str:
        model = f"model version {self.model_version}" if self.model_version else f"model {self.model_ref or '?'}"
        return f"Monitor alarm for {self.ds}: {model}, {len(self.alarms)} over threshold"

    def lines(self) -> list[str]:
        return [
            f"{a.get('subject')}: {a.get('metric')} {_num(a.get('value'))} (threshold {_num(a.get('threshold'))})"
            for a in self.alarms
        ]

    @property
    def text(self) -> str:
        return "\n".join([self.subject, *self.lines(), f"Report: {self.report}", "train_model runs early on this."])

    @property
    def html(self) -> str:
        items = "".join(f"<li>{html.escape(line)}</li>" for line in self.lines())
        return f"<p>{html.escape(self.subject)}</p><ul>{items}</ul><p>Report: {html.escape(self.report)}</p>"


def act_on_alarms(settings: Settings, monitor_task_id: str = "monitor"):
    """The ShortCircuitOperator callable: alerts and returns True (retrain) when the day has alarms."""

    def check(**context: Any) -> bool:
        result = context["ti"].xcom_pull(task_ids=monitor_task_id)
        if isinstance(result, str):
            # DockerOperator pushes the container's last output line as it is: the image's JSON result.
            try:
                result = json.loads(result)
            except json.JSONDecodeError as err:
                raise ValueError(
                    f"{monitor_task_id}: its last output line is not its JSON result ({err}): {result!r}"
                ) from err
        if not isinstance(result, dict) or not isinstance(result.get("alarms"), list):
            raise ValueError(f"{monitor_task_id}: expected the monitor's result line with 'alarms', got {result!r}")
        if not result["alarms"]:
            return False
        alert = AlarmAlert(
            ds=str(result.get("ds")),
            model_version=result.get("model_version"),
            model_ref=result.get("model_ref"),
            alarms=result["alarms"],
            report=contract.layout_path("monitoring_page", str(result.get("ds"))),
        )
        failure_alert(settings).send(alert, context, what="monitor alarm", about=alert.ds)
        return True

    return check


def request_retrain(**context: Any) -> str:
    """The outlet event carries the day of the alarm: the retrain's run date (an Asset-started run has none)."""
    context["outlet_events"][RETRAIN_REQUESTED].extra = {"ds": context["ds"]}
    return f"retrain requested for {context['ds']}"


def retrain_ds(triggering_asset_events: Any) -> str:
    """The macro behind ``RUN_DS``: the day of the newest retrain request among the events that started a run."""
    events = [e for evs in dict(triggering_asset_events or {}).values() for e in evs]
    days = [str(e.extra["ds"]) for e in sorted(events, key=lambda e: e.timestamp) if (e.extra or {}).get("ds")]
    if not days:
        raise ValueError("this run has neither a logical date nor a retrain request naming a day")
    return days[-1]


# The run date of a train_model run: its logical date on the weekly schedule, the alarm's day when the monitor's
# retrain request started it. Not `ds | default(...)`: a filter's argument is evaluated first, and would fail on
# every run that has a logical date and no triggering event.
RUN_DS = "{{ ds if ds is defined and ds else retrain_ds(triggering_asset_events) }}"
