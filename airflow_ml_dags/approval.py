"""The rollout decision of train_model: a person approves or rejects the version the quality gate passed.

validate registers the candidate and runs the gate. Under ``approval=required`` a candidate that passes over an
existing production version keeps its hands off the ``production`` alias and says ``pending_approval`` in its
result line; ``ModelReview`` (the standard provider's ``HITLBranchOperator``) then puts it before a person in
the UI's Required Actions, with the numbers the decision rests on as Markdown, and waits. The answer picks the
branch: ``promote_approved`` (the validate image's ``promote --ds``: the alias moves, ``promoted_by=approval``)
or ``record_rejection`` (``reject``). No answer within ``approval_timeout_days`` ends as a rejection (the
request's default) and an alert. A version that needs no decision (the gate decided: first version, rejected,
or ``approval=gate``) skips the review, and both branches with it.

Airflow 3.3 parks the waiting task in ``awaiting_input`` (no triggerer involved); the scheduler's sweep applies
the default at the deadline; an answer comes in through the UI or
``PATCH /api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/-1/hitlDetails``.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import HITLBranchOperator
from airflow.sdk import BaseNotifier, Param
from airflow.sdk.definitions.param import ParamsDict
from airflow.sdk.exceptions import AirflowSkipException

from airflow_ml_dags import contract
from airflow_ml_dags.alerts import AlertNotDelivered, failure_alert
from airflow_ml_dags.settings import PRODUCTION_ALIAS, Settings

APPROVE = "Approve"
REJECT = "Reject"
# What the review pushes under this key: who decided what, for the two branches' command lines.
DECISION_KEY = "decision"
# How far back the review looks for the production model's latest monitoring report.
MONITORING_LOOKBACK_DAYS = 31
# The metrics a reviewer compares, in the order the table shows them (the gate's metrics, then the base rate).
TABLE_METRICS = (*contract.GATE_METRICS, "positive_rate")


def parse_result(task_id: str, result: Any) -> dict[str, Any]:
    """A task image's result line as DockerOperator pushed it (the last output line, a JSON text)."""
    if isinstance(result, str):
        try:
            result = json.loads(result)
        except json.JSONDecodeError as err:
            raise ValueError(f"{task_id}: its last output line is not its JSON result ({err}): {result!r}") from err
    if not isinstance(result, dict):
        raise ValueError(f"{task_id}: expected its JSON result line, got {result!r}")
    return result


def _num(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) and not isinstance(value, bool) else "n/a"


def _signed(value: float) -> str:
    return f"{value:+.4f}"


@dataclass(frozen=True)
class Review:
    """What the reviewer sees: built from validate's result line, the run's Params and the latest monitoring
    report of the production version (None when there is none)."""

    result: dict[str, Any]
    ds: str
    days: int
    timeout_days: float
    monitoring: dict[str, Any] | None
    mlflow_url: str | None

    @property
    def metrics(self) -> dict[str, Any]:
        return self.result["metrics"]

    @property
    def registry(self) -> dict[str, Any]:
        registry = self.metrics.get("registry")
        if not isinstance(registry, dict) or not registry.get("version"):
            raise ValueError(f"validate: its result has no registry block to review: {self.result!r}")
        return registry

    @property
    def headline(self) -> str:
        r = self.registry
        return (
            f"{r['metric']} {_num(r['candidate'])} vs {_num(r['production'])} for production version "
            f"{r['production_version']} (margin {_num(r['margin'])})"
        )

    @property
    def subject(self) -> str:
        r = self.registry
        return f"Roll out {r['name']} version {r['version']} (trained on data to {self.ds}) to {PRODUCTION_ALIAS}?"

    def _links(self) -> list[str]:
        r = self.registry
        lines = []
        if self.mlflow_url:
            base = self.mlflow_url.rstrip("/")
            if r.get("experiment_id") and r.get("run_id"):
                lines.append(f"- [MLflow run of the candidate]({base}/#/experiments/{r['experiment_id']}/runs/{r['run_id']})")
            lines.append(f"- [Candidate: version {r['version']}]({base}/#/models/{r['name']}/versions/{r['version']})")
            lines.append(
                f"- [Production: version {r['production_version']}]"
                f"({base}/#/models/{r['name']}/versions/{r['production_version']})"
            )
        else:
            lines.append(f"- MLflow run `{r.get('run_id')}` (no MLflow address for links: set MLFLOW_UI_URL)")
        if self.monitoring:
            page = contract.layout_path("monitoring_page", str(self.monitoring.get("ds")))
            lines.append(f"- Monitoring report page: `{page}` in the data folder")
        return lines

    def _metrics_table(self) -> list[str]:
        r = self.registry
        production = r.get("production_metrics") or {}
        better = contract.CONTRACT["gate_metrics"]
        rows = ["| metric | candidate | production | difference |", "|---|---:|---:|---:|"]
        for name in TABLE_METRICS:
            cand, prod = self.metrics.get(name), production.get(name)
            diff = _signed(cand - prod) if isinstance(cand, int | float) and isinstance(prod, int | float) else "n/a"
            label = f"**{name}** (gate)" if name == r["metric"] else name
            if name in better:
                label += " ↓" if better[name]["better"] == "lower" else " ↑"
            rows.append(f"| {label} | {_num(cand)} | {_num(prod)} | {diff} |")
        return rows

    @staticmethod
    def _confusion(title: str, cm: Mapping[str, int] | None) -> list[str]:
        if not cm:
            return [f"{title}: n/a"]
        return [
            f"{title}:",
            "",
            "| | predicted 0 | predicted 1 |",
            "|---|---:|---:|",
            f"| actual 0 | {cm['tn']} | {cm['fp']} |",
            f"| actual 1 | {cm['fn']} | {cm['tp']} |",
        ]

    def _monitoring(self) -> list[str]:
        r = self.registry
        m = self.monitoring
        if not m:
            return [f"No monitoring report of version {r['production_version']} in the last {MONITORING_LOOKBACK_DAYS} days."]
        quality = m.get("quality") or {}
        alarms = m.get("alarms") or []
        lines = [
            f"Latest report of version {r['production_version']}: **{m.get('verdict')}** on {m.get('ds')} "
            f"({m.get('rows')} rows; ROC AUC on the day's labels {_num(quality.get('roc_auc'))})."
        ]
        lines += [
            f"- alarm: {a.get('subject')} {a.get('metric')} {_num(a.get('value'))} (threshold {_num(a.get('threshold'))})"
            for a in alarms
        ]
        return lines

    @property
    def markdown(self) -> str:
        r = self.registry
        window = contract.window(self.ds, self.days)
        production = r.get("production_metrics") or {}
        sections = [
            f"## Candidate version {r['version']} against production version {r['production_version']}",
            "",
            f"The quality gate **passed** it: {r['reason']}.",
            f"Both models scored the same {self.metrics.get('rows')} validation rows of {self.metrics.get('val_ds')} "
            f"at threshold {self.metrics.get('threshold')}.",
            "",
            *self._metrics_table(),
            "",
            *self._confusion(f"Candidate (version {r['version']})", self.metrics.get("confusion_matrix")),
            "",
            *self._confusion(f"Production (version {r['production_version']})", production.get("confusion_matrix")),
            "",
            "### Data",
            "",
            f"- Window: {len(window)} day(s), {window[0]} to {window[-1]}",
            f"- Training rows: {self.result.get('train_rows', 'n/a')}; validation rows: {self.metrics.get('rows')}",
            f"- Family: {self.metrics.get('family')}",
            "",
            "### Monitoring of the current production model",
            "",
            *self._monitoring(),
            "",
            "### Links",
            "",
            *self._links(),
            "",
            f"**Approve** moves `{PRODUCTION_ALIAS}` to version {r['version']}; **Reject** keeps version "
            f"{r['production_version']}. Without an answer within {self.timeout_days:g} day(s) the candidate is rejected.",
        ]
        return "\n".join(sections)


def latest_monitoring(data_dir: str | None, ds: str, version: str | None) -> dict[str, Any] | None:
    """The newest monitoring report of ``version`` on a day up to ``ds``, or None. A report that cannot be read is
    passed over: it must not keep the reviewer from deciding."""
    if not data_dir or not version:
        return None
    for day in reversed(contract.window(ds, MONITORING_LOOKBACK_DAYS)):
        path = os.path.join(data_dir, contract.layout_path("monitoring_report", day))
        try:
            with open(path, encoding="utf-8") as f:
                report = json.load(f)
        except (OSError, ValueError):
            continue
        if isinstance(report, dict) and str((report.get("model") or {}).get("version")) == str(version):
            return report
    return None


@dataclass(frozen=True)
class ReviewRequest:
    """The message that tells the reviewer a decision waits."""

    review: Review
    link: str

    @property
    def subject(self) -> str:
        r = self.review.registry
        return f"Decision needed: {r['name']} version {r['version']} waits for approval"

    def lines(self) -> list[str]:
        return [
            self.review.headline,
            f"Decide at {self.link} within {self.review.timeout_days:g} day(s); then it is rejected.",
        ]

    @property
    def text(self) -> str:
        return "\n".join([self.subject, *self.lines()])

    @property
    def html(self) -> str:
        items = "".join(f"<p>{html.escape(line)}</p>" for line in self.lines())
        return f"<p>{html.escape(self.subject)}</p>{items}"


@dataclass(frozen=True)
class ReviewTimedOut:
    """The alert of a review nobody answered in time."""

    name: str
    version: str
    timeout_days: float

    @property
    def subject(self) -> str:
        return f"No decision on {self.name} version {self.version} within {self.timeout_days:g} day(s): rejected"

    @property
    def text(self) -> str:
        return f"{self.subject}\n{PRODUCTION_ALIAS} stays where it is; approve it by hand with promote_model if wanted."

    @property
    def html(self) -> str:
        return f"<p>{html.escape(self.subject)}</p>"


class ReviewRequested(BaseNotifier):
    """Tells the reviewer on the alert channels that a decision waits. No template fields: the message quotes
    the task's numbers, which are not templates. A channel that fails does not stop the wait: the request is
    on the Required Actions page all the same."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings

    def notify(self, context: Any) -> None:
        task = context["task"]
        try:
            link = task.generate_link_to_ui_from_context(context=context)
        except ValueError:
            ti = context["ti"]
            link = f"/dags/{ti.dag_id}/runs/{ti.run_id}/tasks/{ti.task_id}/required_actions (set [api] base_url)"
        request = ReviewRequest(review=task.review, link=link)
        try:
            failure_alert(self.settings).send(request, context, what="review request", about=request.subject)
        except AlertNotDelivered as err:
            self.log.warning("%s", err)


class ModelReview(HITLBranchOperator):
    """The approval step; see the module's docstring."""

    # The run date is rendered like the stages' --ds: a retrain run started by the monitor has no logical date.
    template_fields = (*HITLBranchOperator.template_fields, "run_ds")

    def __init__(
        self,
        *,
        settings: Settings,
        validate_task_id: str,
        promote_task_id: str,
        reject_task_id: str,
        run_ds: str,
        params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        # What Airflow passes is the DAG's Params merged with the task's; the provider keeps only those whose
        # source is the task for the reviewer's form, so the comment field is marked as the task's own.
        form = ParamsDict(params or {})
        form["comment"] = Param(
            None, type=["null", "string"], description="why (optional): kept on the model version's tags", source="task"
        )
        super().__init__(
            # Replaced when the review starts: the numbers exist only once validate has run.
            subject="Model rollout decision",
            options=[APPROVE, REJECT],
            # What the scheduler answers at the deadline.
            defaults=[REJECT],
            options_mapping={APPROVE: promote_task_id, REJECT: reject_task_id},
            params=form,
            notifiers=[ReviewRequested(settings)],
            **kwargs,
        )
        self.settings = settings
        self.validate_task_id = validate_task_id
        self.run_ds = run_ds

    def execute(self, context: Any) -> Any:
        result = parse_result(self.validate_task_id, context["ti"].xcom_pull(task_ids=self.validate_task_id))
        if not result.get("pending_approval"):
            raise AirflowSkipException(
                f"no decision needed: version {result.get('version')} was {result.get('decision')} by the gate"
            )
        params = context["params"]
        timeout_days = float(params["approval_timeout_days"])
        # Not a template field of the provider: the Param is known only per run.
        self.response_timeout = timedelta(days=timeout_days)
        registry = result["metrics"]["registry"]
        self.review = Review(
            result=result,
            ds=self.run_ds,
            days=int(params["days"]),
            timeout_days=timeout_days,
            monitoring=latest_monitoring(_data_folder(), self.run_ds, registry.get("production_version")),
            mlflow_url=self.settings.mlflow_ui_url,
        )
        self.subject = self.review.subject
        self.body = self.review.markdown
        return super().execute(context)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        # The provider takes the branch by raising (Airflow 3 skips the other branch with an exception), so
        # nothing after super().execute_complete() would run: the decision is recorded from the event first.
        if "error" not in event:
            # The provider checks the answer too, but only after this: nothing is recorded for an answer it refuses.
            self.validate_chosen_options(event["chosen_options"])
            self._record_decision(context, event)
        return super().execute_complete(context=context, event=event)

    def _record_decision(self, context: Any, event: dict[str, Any]) -> None:
        user = event.get("responded_by_user")
        # The scheduler's sweep answers with the request's default and no user when the timeout passes.
        timed_out = bool(event.get("timedout")) or not user
        responded_at = event["responded_at"]
        decision = {
            "approved": list(event["chosen_options"]) == [APPROVE],
            "by": "timeout" if timed_out else _user_name(user),
            "comment": str((event.get("params_input") or {}).get("comment") or ""),
            "at": responded_at.isoformat() if hasattr(responded_at, "isoformat") else str(responded_at),
            "ended_by": "timeout" if timed_out else "reviewer",
        }
        context["ti"].xcom_push(key=DECISION_KEY, value=decision)
        if timed_out:
            result = parse_result(self.validate_task_id, context["ti"].xcom_pull(task_ids=self.validate_task_id))
            registry = result["metrics"]["registry"]
            alert = ReviewTimedOut(
                name=registry["name"], version=registry["version"], timeout_days=float(context["params"]["approval_timeout_days"])
            )
            try:
                failure_alert(self.settings).send(alert, context, what="review timeout alert", about=alert.subject)
            except AlertNotDelivered as err:
                # The rejection must still be recorded: failing here would skip record_rejection.
                self.log.warning("%s", err)


def _user_name(user: Any) -> str:
    if isinstance(user, Mapping):
        return str(user.get("name") or user.get("id"))
    return str(getattr(user, "name", None) or getattr(user, "id", ""))


def _data_folder() -> str | None:
    # The monitoring report is a nicety of the review: no readable data folder means none is shown.
    from airflow_ml_dags.sensors import data_folder

    try:
        return data_folder("fs_default")
    except Exception:  # noqa: BLE001
        return None


def decision_arg(field: str, review_task_id: str) -> str:
    """A field of the review's decision, as a templated command-line value."""
    return f"{{{{ ti.xcom_pull(task_ids='{review_task_id}', key='{DECISION_KEY}')['{field}'] }}}}"
