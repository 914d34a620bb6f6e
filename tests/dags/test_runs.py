"""The DAGs run with dag.test() against the real Docker engine and the images `make build` made.

dag.test() does not raise when a task fails, so every test asserts the states, then the files the tasks wrote
(in the session's data folder, which HOST_DATA_DIR binds at /data).
"""

from __future__ import annotations

import csv
import json
from datetime import timedelta

import pytest
from conftest import DAGS_FOLDER, DATA_DIR, pushed_xcom, reschedule_count, run_dag

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("images", "airflow_db")]

ROWS = 400
FEATURES = [f"f{i:02d}" for i in range(20)]


def _run(dag, logical_date, conf=None, case=""):
    return run_dag(dag, logical_date, conf, label=f"dag.test {dag.dag_id}{case}")


def _xcom(dag_run, task_id):
    value = pushed_xcom(dag_run, task_id)
    # DockerOperator pushes the container's last output line as a string: the image's JSON result.
    assert isinstance(value, str), value
    return json.loads(value)


def _csv(relative):
    with open(DATA_DIR / relative, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def _set_model_ref(value):
    from airflow.models.variable import Variable

    Variable.set("model_ref", value)


@pytest.fixture(scope="module")
def logical_date(dagbag):
    """The second day the DAGs schedule, so that training can take two days (a run for a day before the
    DAGs' start_date would get no tasks)."""
    return dagbag.dags["generate_data"].start_date + timedelta(days=1)


@pytest.fixture(scope="module")
def ds(logical_date):
    return f"{logical_date:%Y-%m-%d}"


@pytest.fixture(scope="module")
def previous_ds(logical_date):
    return f"{logical_date - timedelta(days=1):%Y-%m-%d}"


@pytest.fixture(scope="module")
def generated(dagbag, logical_date):
    dag = dagbag.dags["generate_data"]
    return [
        _run(dag, logical_date - timedelta(days=1), conf={"rows": ROWS}, case=" (previous day)"),
        _run(dag, logical_date, conf={"rows": ROWS}),
    ]


@pytest.fixture(scope="module")
def trained(dagbag, logical_date, generated):
    return _run(dagbag.dags["train_model"], logical_date, conf={"days": 2}, case=" (days=2)")


@pytest.fixture(scope="module")
def predicted(dagbag, logical_date, ds, trained):
    _set_model_ref(f"models/{ds}")
    return _run(dagbag.dags["predict"], logical_date)


def test_generate_data(generated, previous_ds, ds):
    ids = set()
    for (dag_run, states), day in zip(generated, (previous_ds, ds), strict=True):
        assert states == {"generate": "success"}
        assert dag_run.state == "success"
        header, rows = _csv(f"raw/{day}/data.csv")
        assert header == ["id", *FEATURES]
        assert len(rows) == ROWS
        t_header, targets = _csv(f"raw/{day}/target.csv")
        assert t_header == ["id", "target"]
        assert [r[0] for r in targets] == [r[0] for r in rows]
        assert {r[1] for r in targets} == {"0", "1"}
        result = _xcom(dag_run, "generate")
        assert (result["status"], result["stage"], result["ds"]) == ("ok", "generate", day)
        ids |= {r[0] for r in rows}
    assert len(ids) == 2 * ROWS


def test_train_model(trained, previous_ds, ds):
    dag_run, states = trained
    assert states == {
        **{t: "success" for t in ("wait_for_raw_data", "prepare", "split", "train", "validate")},
        # The gate decided alone (the first version, or a rejected one): nobody is asked, neither branch runs.
        **{t: "skipped" for t in ("review", "promote_approved", "record_rejection")},
    }
    assert dag_run.state == "success"
    columns = ["id", *FEATURES, "target"]
    header, train_data = _csv(f"processed/{ds}/train_data.csv")
    assert header == columns
    # days=2: the rows of both days, each with its own day's target.
    expected = {}
    for day in (previous_ds, ds):
        _, data = _csv(f"raw/{day}/data.csv")
        _, targets = _csv(f"raw/{day}/target.csv")
        expected |= {r[0]: t[1] for r, t in zip(data, targets, strict=True)}
    assert {r[0]: r[-1] for r in train_data} == expected
    assert len(train_data) == 2 * ROWS
    train_header, train = _csv(f"processed/{ds}/train.csv")
    val_header, val = _csv(f"processed/{ds}/val.csv")
    assert train_header == val_header == columns
    assert len(train) + len(val) == 2 * ROWS and 0 < len(val) < len(train)
    assert {r[0] for r in train} | {r[0] for r in val} == {r[0] for r in train_data}
    model_dir = DATA_DIR / "models" / ds
    assert {"manifest.json", "preprocess.json", "metrics.json"} <= {p.name for p in model_dir.iterdir()}
    metrics = json.loads((model_dir / "metrics.json").read_text())
    for key in ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"):
        assert key in metrics
    assert 0.0 <= metrics["accuracy"] <= 1.0
    for task_id in ("prepare", "split", "train", "validate"):
        assert _xcom(dag_run, task_id)["status"] == "ok"


def test_predict(predicted, ds):
    dag_run, states = predicted
    assert states == {"wait_for_raw_data": "success", "wait_for_model": "success", "predict": "success"}
    assert dag_run.state == "success"
    found = {"model_ref": f"models/{ds}", "resolved": f"/data/models/{ds}", "family": "mlp"}
    assert pushed_xcom(dag_run, "wait_for_model") == found
    header, rows = _csv(f"predictions/{ds}/predictions.csv")
    assert header == ["id", "probability", "label"]
    _, data = _csv(f"raw/{ds}/data.csv")
    assert [r[0] for r in rows] == [r[0] for r in data]
    for _, probability, label in rows:
        assert 0.0 <= float(probability) <= 1.0
        assert label == ("1" if float(probability) >= 0.5 else "0")
    result = _xcom(dag_run, "predict")
    assert result["stage"] == "predict"
    # predict scored what the sensor found, and records the Variable's value beside it.
    assert (result["model"], result["modelRef"]) == (f"/data/models/{ds}", f"models/{ds}")


@pytest.mark.parametrize(
    ("case", "model_ref", "message"),
    [
        # A host path names the wrong path space: the container could not see it.
        ("host path in model_ref", lambda ds: str(DATA_DIR / "models" / ds), "expected a path relative"),
        ("malformed registry ref", lambda ds: "models:/airflow-ml-dags-classifier", "malformed registry reference"),
        # Unset means the registry's production model, and this environment has no MLflow to ask.
        ("no model_ref", None, "neither AIRFLOW_MLFLOW_URI nor MLFLOW_TRACKING_URI is set"),
    ],
)
def test_predict_fails_at_once_without_a_usable_model_ref(
    dagbag, predicted, logical_date, ds, case, model_ref, message, capfd
):
    """The Variable is read when the tasks render: a bad one fails the model sensor at its first poke (no
    waiting until the timeout), and predict never runs."""
    from airflow.models.variable import Variable

    try:
        if model_ref is None:
            Variable.delete("model_ref")
        else:
            _set_model_ref(model_ref(ds))
        capfd.readouterr()
        dag_run, states = _run(dagbag.dags["predict"], logical_date, case=f" ({case})")
    finally:
        _set_model_ref(f"models/{ds}")
    assert states == {"wait_for_raw_data": "success", "wait_for_model": "failed", "predict": "upstream_failed"}
    assert dag_run.state == "failed"
    out, err = capfd.readouterr()
    assert message in out + err
    assert "AirflowSensorTimeout" not in out + err


def test_sensor_whose_input_never_arrives_fails_by_timeout(logical_date, capfd):
    """A day with no raw data: the sensor reschedules, then fails by its timeout; nothing downstream runs."""
    from airflow.dag_processing.dagbag import DagBag

    # A private copy of the DAG: the short timeout must not leak into the other tests.
    dag = DagBag(dag_folder=str(DAGS_FOLDER)).dags["predict"]
    sensor = dag.get_task("wait_for_raw_data")
    sensor.poke_interval, sensor.timeout = 1, 3
    missing_day = logical_date + timedelta(days=1)  # generated by no test
    assert not (DATA_DIR / "raw" / f"{missing_day:%Y-%m-%d}").exists()

    dag_run, states = _run(dag, missing_day, case=" (input never arrives)")

    assert states == {"wait_for_raw_data": "failed", "wait_for_model": "success", "predict": "upstream_failed"}
    assert dag_run.state == "failed"
    reschedules = reschedule_count(dag_run, "wait_for_raw_data")
    # Rescheduled at least once, then failed on its timeout: it waited and gave up, it did not crash.
    assert reschedules >= 1
    out, err = capfd.readouterr()
    assert "AirflowSensorTimeout: Sensor has timed out" in out + err
    assert not (DATA_DIR / "predictions" / f"{missing_day:%Y-%m-%d}").exists()


# ---- monitor ---------------------------------------------------------------------------------------------------


def _roc_auc(labels, scores):
    """The share of (positive, negative) pairs the scores order right, ties counting half: the definition,
    computed pair by pair, independently of the image's rank-based one."""
    pos = [s for y, s in zip(labels, scores, strict=True) if y == 1]
    neg = [s for y, s in zip(labels, scores, strict=True) if y == 0]
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def _scored_day(day):
    _, predictions = _csv(f"predictions/{day}/predictions.csv")
    _, targets = _csv(f"raw/{day}/target.csv")
    label = {r[0]: int(r[1]) for r in targets}
    return [label[r[0]] for r in predictions], [float(r[1]) for r in predictions]


MONITOR_TASKS = ("wait_for_predictions", "wait_for_labels", "monitor", "act_on_alarms", "request_retrain")


@pytest.fixture(scope="module")
def monitored(dagbag, logical_date, predicted):
    return _run(dagbag.dags["monitor"], logical_date)


def test_monitor_measures_the_day_and_a_quiet_day_requests_no_retrain(monitored, ds):
    dag_run, states = monitored
    assert states == {**dict.fromkeys(MONITOR_TASKS[:4], "success"), "request_retrain": "skipped"}
    assert dag_run.state == "success"
    result = _xcom(dag_run, "monitor")
    assert (result["verdict"], result["alarms"], result["rows"]) == ("ok", [], ROWS)
    report = json.loads((DATA_DIR / "monitoring" / ds / "report.json").read_text())
    labels, scores = _scored_day(ds)
    assert report["quality"]["roc_auc"] == pytest.approx(_roc_auc(labels, scores), abs=1e-12)
    assert report["quality"]["positive_rate_actual"] == pytest.approx(sum(labels) / len(labels), abs=1e-12)
    assert report["model"]["model_ds"] == ds
    assert sorted(report["drift"]["features"]) == FEATURES
    # The page opens from disk: its charts are inline SVG, and it names no address to fetch anything from.
    page = (DATA_DIR / "monitoring" / ds / "report.html").read_text()
    assert "<svg" in page and "src=\"http" not in page and "href=\"http" not in page
    assert f'href="{ds}/report.html"' in (DATA_DIR / "monitoring" / "index.html").read_text()


@pytest.fixture(scope="module")
def drift_day(logical_date):
    # Two days on: the day after the run date is the one no test generates.
    return logical_date + timedelta(days=2)


@pytest.fixture(scope="module")
def drifted(dagbag, drift_day, predicted, monitored):
    """A day whose world shifted (generate_data's drift_from), predicted with the run date's model."""
    drift_ds = f"{drift_day:%Y-%m-%d}"
    conf = {"rows": ROWS, "drift_from": drift_ds}
    generated = _run(dagbag.dags["generate_data"], drift_day, conf=conf, case=" (drift)")
    return generated, _run(dagbag.dags["predict"], drift_day, case=" (drift)")


def _retrain_requests():
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.name == "retrain_requested")
        ).all()
        return [(e.source_dag_id, e.source_task_id, e.extra) for e in rows]


def test_a_drifted_day_alarms_once_by_the_notifier_and_requests_a_retrain(drifted, drift_day, ds, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag
    from test_alerts import WebhookReceiver

    (_, generate_states), (_, predict_states) = drifted
    assert set(generate_states.values()) == set(predict_states.values()) == {"success"}
    drift_ds = f"{drift_day:%Y-%m-%d}"
    receiver = WebhookReceiver()
    try:
        # The alert channels are read when the DAG file is parsed: a private copy, parsed with a webhook set.
        monkeypatch.setenv("ALERT_WEBHOOK_URL", receiver.url("/hooks/monitor"))
        dag = DagBag(dag_folder=str(DAGS_FOLDER)).dags["monitor"]
        before = _retrain_requests()
        dag_run, states = _run(dag, drift_day, case=" (drift)")
    finally:
        receiver.close()
    assert states == dict.fromkeys(MONITOR_TASKS, "success")
    assert dag_run.state == "success"
    result = _xcom(dag_run, "monitor")
    drifting = {a["subject"] for a in result["alarms"] if a["metric"] == "psi"}
    assert drifting & set(FEATURES), result["alarms"]
    # A shift this large costs the model its quality too, and the verdict names the worse of the two.
    quality = [a for a in result["alarms"] if a["metric"] == "roc_auc"]
    assert result["verdict"] == ("quality drop" if quality else "drift")
    # One alert, naming the day, the model and each metric over its threshold with its value.
    assert [path for path, _ in receiver.posts] == ["/hooks/monitor"]
    text = receiver.posts[0][1]["text"]
    assert text.startswith(f"Monitor alarm for {drift_ds}: model models/{ds}, {len(result['alarms'])} over threshold")
    for alarm in result["alarms"]:
        value, threshold = f"{alarm['value']:.4f}", f"{alarm['threshold']:.4f}"
        assert f"{alarm['subject']}: {alarm['metric']} {value} (threshold {threshold})" in text
    # The Asset event train_model's schedule waits for, carrying the day train_model then takes as its run date.
    assert _retrain_requests()[len(before):] == [("monitor", "request_retrain", {"ds": drift_ds})]
