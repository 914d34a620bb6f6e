"""train_model's approval step: the review task as the DAG declares it, and what the reviewer reads."""

from __future__ import annotations

import json

import pytest
from test_dagbag import _resolve

from airflow_ml_dags.monitoring import RUN_DS

CM_CANDIDATE = {"tn": 50, "fp": 6, "fn": 4, "tp": 60}
CM_PRODUCTION = {"tn": 47, "fp": 9, "fn": 8, "tp": 56}


def _metrics(roc_auc: float, accuracy: float, cm: dict[str, int]) -> dict:
    return {"rows": 120, "positive_rate": 0.53, "threshold": 0.5, "accuracy": accuracy, "precision": 0.9,
            "recall": 0.93, "f1": 0.92, "roc_auc": roc_auc, "log_loss": 0.21, "confusion_matrix": cm}  # fmt: skip


def validate_result(pending: bool = True) -> dict:
    """A validate result line as the image prints it for a candidate that passed the gate over version 3."""
    registry = {
        "name": "clf", "version": "4", "decision": "pending" if pending else "promoted",
        "reason": "roc_auc 0.97 >= 0.91 (production version 3) + margin 0.01", "metric": "roc_auc", "margin": 0.01,
        "production_version": "3", "candidate": 0.97, "production": 0.91,
        "production_metrics": _metrics(0.91, 0.86, CM_PRODUCTION), "run_id": "abc123", "experiment_id": "7",
        "approval": {"mode": "required", "status": "pending" if pending else "not_needed", "timeout_days": 7},
    }  # fmt: skip
    metrics = {"ds": "2026-03-01", "family": "mlp", "val_ds": "2026-03-01", **_metrics(0.97, 0.92, CM_CANDIDATE),
               "registry": registry}  # fmt: skip
    return {"status": "ok", "stage": "validate", "ds": "2026-03-01", "decision": registry["decision"],
            "version": "4", "pending_approval": pending, "train_rows": 14000, "metrics": metrics}  # fmt: skip


def test_the_review_sits_between_validate_and_its_two_branches(dagbag):
    from airflow.providers.standard.operators.hitl import HITLBranchOperator

    from airflow_ml_dags.approval import ReviewRequested

    dag = dagbag.dags["train_model"]
    review = dag.get_task("review")
    assert isinstance(review, HITLBranchOperator)
    assert review.options == ["Approve", "Reject"]
    # The timeout's answer: no decision is a rejection, never a rollout.
    assert review.defaults == ["Reject"]
    assert review.options_mapping == {"Approve": "promote_approved", "Reject": "record_rejection"}
    # The reviewer's form has the comment only, not the run's training Params.
    assert set(review.serialized_params) == {"comment"}
    assert review.execution_timeout is None
    assert any(isinstance(n, ReviewRequested) for n in review.notifiers)
    assert review.run_ds == RUN_DS
    # Both branches run only when the review chose them: a skipped review skips them too.
    for task_id in ("promote_approved", "record_rejection"):
        assert dag.get_task(task_id).trigger_rule == "all_success"


def test_the_branches_run_the_validate_images_decision_commands_with_the_reviewers_answer(dagbag):
    dag = dagbag.dags["train_model"]
    promote = dag.get_task("promote_approved").command
    reject = dag.get_task("record_rejection").command
    assert promote[:3] == ["promote", "--ds", RUN_DS]
    assert reject[:3] == ["reject", "--ds", RUN_DS]
    for command, by in ((promote, "--approved-by"), (reject, "--rejected-by")):
        assert "'by'" in command[command.index(by) + 1]
        assert "key='decision'" in command[command.index("--comment") + 1]
        assert "'at'" in command[command.index("--decided-at") + 1]
        assert command[-2:] == ["--data-dir", "/data"]
    assert "'ended_by'" in reject[reject.index("--ended-by") + 1]
    for task_id in ("promote_approved", "record_rejection"):
        assert dag.get_task(task_id).image.split("/")[-1].startswith("validate:")


def test_validate_gets_the_approval_mode_and_timeout_from_the_params(dagbag):
    from airflow.sdk.exceptions import ParamValidationError

    dag = dagbag.dags["train_model"]
    validate = dag.get_task("validate").command
    assert validate[validate.index("--approval") + 1] == "{{ params.approval }}"
    assert validate[validate.index("--approval-timeout-days") + 1] == "{{ params.approval_timeout_days }}"
    params = _resolve(dag, {})
    assert (params["approval"], params["approval_timeout_days"]) == ("required", 7)
    assert _resolve(dag, {"approval": "gate", "approval_timeout_days": 0.5})["approval"] == "gate"
    for conf in ({"approval": "auto"}, {"approval_timeout_days": 0}, {"approval_timeout_days": 91}):
        with pytest.raises(ParamValidationError):
            _resolve(dag, conf)


def test_the_reviewer_sees_both_models_numbers_the_data_the_gate_and_the_monitoring():
    from airflow_ml_dags.approval import Review

    report = {"ds": "2026-02-28", "rows": 5000, "verdict": "drift", "quality": {"roc_auc": 0.88},
              "alarms": [{"subject": "f03", "metric": "psi", "value": 0.31, "threshold": 0.2}]}  # fmt: skip
    review = Review(validate_result(), ds="2026-03-01", days=7, timeout_days=7, monitoring=report,
                    mlflow_url="http://localhost:5000")  # fmt: skip
    md = review.markdown
    assert review.subject == "Roll out clf version 4 (trained on data to 2026-03-01) to production?"
    rows = {line.split("|")[1].strip(): line for line in md.splitlines() if line.startswith("| ")}
    # Every gate metric, candidate then production then the difference, the gate's own marked.
    assert "| **roc_auc** (gate) ↑ | 0.9700 | 0.9100 | +0.0600 |" in md
    assert rows["accuracy ↑"] == "| accuracy ↑ | 0.9200 | 0.8600 | +0.0600 |"
    assert rows["log_loss ↓"] == "| log_loss ↓ | 0.2100 | 0.2100 | +0.0000 |"
    for metric in ("precision ↑", "recall ↑", "f1 ↑", "positive_rate"):
        assert metric in rows
    # Both confusion matrices, in the same layout.
    assert "| actual 0 | 50 | 6 |" in md and "| actual 1 | 4 | 60 |" in md
    assert "| actual 0 | 47 | 9 |" in md and "| actual 1 | 8 | 56 |" in md
    assert "roc_auc 0.97 >= 0.91 (production version 3) + margin 0.01" in md
    assert "- Window: 7 day(s), 2026-02-23 to 2026-03-01" in md
    assert "- Training rows: 14000; validation rows: 120" in md
    assert "**drift** on 2026-02-28" in md and "- alarm: f03 psi 0.3100 (threshold 0.2000)" in md
    assert "(http://localhost:5000/#/experiments/7/runs/abc123)" in md
    assert "(http://localhost:5000/#/models/clf/versions/4)" in md
    assert "`monitoring/2026-02-28/report.html`" in md
    assert review.headline == "roc_auc 0.9700 vs 0.9100 for production version 3 (margin 0.0100)"


def test_without_a_monitoring_report_or_an_mlflow_address_the_review_says_so():
    from airflow_ml_dags.approval import Review

    md = Review(validate_result(), ds="2026-03-01", days=1, timeout_days=0.5, monitoring=None, mlflow_url=None).markdown
    assert "No monitoring report of version 3 in the last 31 days." in md
    assert "set MLFLOW_UI_URL" in md
    assert "within 0.5 day(s) the candidate is rejected" in md


def test_the_latest_monitoring_report_is_the_production_versions_newest_up_to_the_run_date(tmp_path):
    from airflow_ml_dags.approval import latest_monitoring

    def write(day: str, version: str | None, verdict: str) -> None:
        folder = tmp_path / "monitoring" / day
        folder.mkdir(parents=True)
        (folder / "report.json").write_text(json.dumps({"ds": day, "model": {"version": version}, "verdict": verdict}))

    write("2026-02-26", "3", "ok")
    write("2026-02-27", "3", "drift")
    write("2026-02-28", "2", "ok")  # an older production version's day: not the one being replaced
    write("2026-03-02", "3", "quality drop")  # after the run date
    (tmp_path / "monitoring" / "2026-03-01").mkdir()
    (tmp_path / "monitoring" / "2026-03-01" / "report.json").write_text("{not json")
    assert latest_monitoring(str(tmp_path), "2026-03-01", "3")["ds"] == "2026-02-27"
    assert latest_monitoring(str(tmp_path), "2026-03-01", "9") is None
    assert latest_monitoring(None, "2026-03-01", "3") is None


def test_the_notices_name_the_version_the_numbers_and_where_to_decide():
    from airflow_ml_dags.approval import Review, ReviewRequest, ReviewTimedOut

    review = Review(validate_result(), ds="2026-03-01", days=1, timeout_days=7, monitoring=None, mlflow_url=None)
    link = "http://localhost:8080/dags/train_model/runs/r1/tasks/review/required_actions?map_index=-1"
    request = ReviewRequest(review=review, link=link)
    assert request.subject == "Decision needed: clf version 4 waits for approval"
    assert "roc_auc 0.9700 vs 0.9100 for production version 3" in request.text
    assert link in request.text and "within 7 day(s)" in request.text
    assert "<script>" not in ReviewRequest(review=review, link="<script>").html
    timed_out = ReviewTimedOut(name="clf", version="4", timeout_days=7)
    assert timed_out.subject == "No decision on clf version 4 within 7 day(s): rejected"
