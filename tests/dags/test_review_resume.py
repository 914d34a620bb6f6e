"""The review's second half: what happens when the answer comes back. Airflow resumes the task with the answer
as an event and calls ``execute_complete``; here that runs the real review task of the parsed DAG and the
provider's own branching (which ends by raising to skip the branch not taken), with a stand-in for the task
instance's XCom store. The timeout's alert goes to a real webhook receiver."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from test_alerts import _parse, webhook  # noqa: F401 - webhook is the receiver fixture
from test_approval import validate_result

from airflow_ml_dags.approval import DECISION_KEY

ANSWERED_AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@dataclass
class XComStore:
    """What the review asks of its task instance: the validate result to read, a place for what it pushes."""

    task: Any
    pulled: dict[str, Any]
    pushed: dict[str, Any] = field(default_factory=dict)
    map_index: int = -1

    def xcom_pull(self, task_ids: str, key: str = "return_value") -> Any:
        return self.pulled[task_ids] if key == "return_value" else None

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


@pytest.fixture
def review(webhook):  # noqa: F811 - the imported fixture
    with pytest.MonkeyPatch.context() as env:
        dags = _parse(env, ALERT_WEBHOOK_URL=webhook.url("/hooks/review"))
        webhook.posts.clear()
        yield dags["train_model"].get_task("review")


def _resume(review, event: dict[str, Any]) -> tuple[XComStore, BaseException]:
    """Resumes the review with ``event``; returns its XCom store and what the provider raised to branch."""
    from airflow.sdk.exceptions import DownstreamTasksSkipped

    ti = XComStore(task=review, pulled={"validate": validate_result()})
    context = {"ti": ti, "task": review, "params": {"approval_timeout_days": 7, "days": 1}}
    with pytest.raises(DownstreamTasksSkipped) as skipped:
        review.execute_complete(context, event)
    return ti, skipped.value


def _event(option: str, user: dict[str, str] | None, comment: str | None, **extra: Any) -> dict[str, Any]:
    return {
        "chosen_options": [option],
        "params_input": {"comment": comment},
        "responded_at": ANSWERED_AT,
        "responded_by_user": user,
        **extra,
    }


def test_an_approval_records_who_decided_and_takes_the_promote_branch(review, webhook):  # noqa: F811
    ti, skipped = _resume(review, _event("Approve", {"id": "7", "name": "ann"}, "better on every metric"))
    assert skipped.tasks == [("record_rejection", -1)]
    assert ti.pushed[DECISION_KEY] == {
        "approved": True,
        "by": "ann",
        "comment": "better on every metric",
        "at": ANSWERED_AT.isoformat(),
        "ended_by": "reviewer",
    }
    assert webhook.posts == []


def test_a_rejection_without_a_comment_takes_the_rejection_branch(review, webhook):  # noqa: F811
    ti, skipped = _resume(review, _event("Reject", {"id": "8", "name": "bob"}, None))
    assert skipped.tasks == [("promote_approved", -1)]
    decision = ti.pushed[DECISION_KEY]
    assert (decision["approved"], decision["by"], decision["comment"], decision["ended_by"]) == (
        False,
        "bob",
        "",
        "reviewer",
    )
    assert webhook.posts == []


def test_the_deadlines_default_is_a_rejection_by_timeout_with_an_alert(review, webhook):  # noqa: F811
    # What the scheduler's sweep answers at the deadline: the request's default, nobody's name.
    ti, skipped = _resume(review, _event("Reject", None, None, timedout=True))
    assert skipped.tasks == [("promote_approved", -1)]
    assert ti.pushed[DECISION_KEY]["by"] == ti.pushed[DECISION_KEY]["ended_by"] == "timeout"
    assert len(webhook.posts) == 1
    path, body = webhook.posts[0]
    assert path == "/hooks/review"
    assert body["text"].startswith("No decision on clf version 4 within 7 day(s): rejected")


def test_an_answer_outside_the_options_is_refused_before_anything_is_recorded(review):
    ti = XComStore(task=review, pulled={"validate": validate_result()})
    context = {"ti": ti, "task": review, "params": {"approval_timeout_days": 7, "days": 1}}
    with pytest.raises(ValueError, match="not in"):
        review.execute_complete(context, _event("Maybe", {"id": "7", "name": "ann"}, None))
    assert DECISION_KEY not in ti.pushed
