"""The registry scenario with dag.test(): two weeks of data, two trainings, the quality gate, predict on the
production alias, and a manual promotion, all against a real MLflow server.

Task containers join the server's Docker network and reach it by its container name (MLFLOW_TRACKING_URI);
the model sensor runs in this process and reaches it by the published port (AIRFLOW_MLFLOW_URI). The DAGs are
parsed with that environment and a fixed two-week window (PIPELINE_START_DATE / PIPELINE_END_DATE), far from
the dates the other DAG runs use, in the session's data folder.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from conftest import DAGS_FOLDER, DATA_DIR, pushed_xcom, reschedule_count, run_dag

from airflow_ml_dags.settings import DEFAULT_REGISTERED_MODEL

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("images", "airflow_db")]

# Monday 6 to Sunday 19 January 2025: @weekly (Sundays) trains on the 12th and on the 19th.
START = datetime(2025, 1, 6, tzinfo=UTC)
WEEK_1 = [START + timedelta(days=d) for d in range(7)]
WEEK_2 = [START + timedelta(days=d) for d in range(7, 14)]
ROWS = 150
MODEL = DEFAULT_REGISTERED_MODEL
PRODUCTION = f"models:/{MODEL}@production"
# Hyperparameters that learn next to nothing: one epoch at a vanishing learning rate.
BAD = {"family": "logreg", "epochs": 1, "learning_rate": 0.00001}


def _ds(day: datetime) -> str:
    return f"{day:%Y-%m-%d}"


@pytest.fixture(scope="module")
def dags(mlflow_server):
    """The DAGs as a deployment with MLflow parses them. The environment stays set for the module: dag.test()
    parses the DAG folder again to store it, and that parse should see the same deployment."""
    from airflow.dag_processing.dagbag import DagBag

    with pytest.MonkeyPatch.context() as env:
        env.setenv("DOCKER_NETWORK", mlflow_server.network)
        env.setenv("MLFLOW_TRACKING_URI", mlflow_server.internal_uri)
        env.setenv("AIRFLOW_MLFLOW_URI", mlflow_server.host_uri)
        env.setenv("PIPELINE_START_DATE", _ds(WEEK_1[0]))
        env.setenv("PIPELINE_END_DATE", _ds(WEEK_2[-1]))
        bag = DagBag(dag_folder=str(DAGS_FOLDER))
        assert bag.import_errors == {}
        yield bag.dags


def _run(dag, logical_date, conf=None, case=""):
    return run_dag(dag, logical_date, conf, label=f"scenario: dag.test {dag.dag_id}{case}")


def _xcom(dag_run, task_id):
    value = pushed_xcom(dag_run, task_id)
    # DockerOperator pushes the container's last line (a JSON string), sensors push the object itself.
    return json.loads(value) if isinstance(value, str) else value


def _generate(dags, days):
    for day in days:
        dag_run, states = _run(dags["generate_data"], day, conf={"rows": ROWS}, case=f" {_ds(day)}")
        assert (states, dag_run.state) == ({"generate": "success"}, "success"), _ds(day)


def _version(server, version: str) -> dict:
    mv = server.call("GET", "model-versions/get", {"name": MODEL, "version": version})["model_version"]
    mv["tags"] = {t["key"]: t["value"] for t in mv.get("tags", [])}
    return mv


def _train_states_ok(states, dag_run):
    assert states == {
        **{t: "success" for t in ("wait_for_raw_data", "prepare", "split", "train", "validate")},
        # The gate decided alone (the first version, or a rejected one): nobody is asked, neither branch runs.
        **{t: "skipped" for t in ("review", "promote_approved", "record_rejection")},
    }
    assert dag_run.state == "success"


@pytest.fixture(scope="module")
def week_1_data(dags):
    _generate(dags, WEEK_1)


@pytest.fixture(scope="module")
def week_1(dags, week_1_data):
    return _run(dags["train_model"], WEEK_1[-1], conf={"days": 7}, case=" week 1 (days=7)")


@pytest.fixture(scope="module")
def week_2(dags, week_1):
    _generate(dags, WEEK_2)
    return _run(dags["train_model"], WEEK_2[-1], conf={"days": 7, **BAD}, case=" week 2 (bad hyperparameters)")


@pytest.fixture(scope="module")
def no_model_ref():
    """predict's default: nobody set model_ref. Restores whatever value was there afterwards."""
    from airflow.models.variable import Variable

    before = Variable.get("model_ref", default_var=None)
    Variable.delete("model_ref")
    yield
    if before is not None:
        Variable.set("model_ref", before)


def test_before_the_first_model_predict_waits_instead_of_failing(week_1_data, no_model_ref, mlflow_server, capfd):
    """A fresh deployment's first predict: the day's data is there, no production model yet. A private copy
    of the DAG with a short sensor timeout, so it gives up after a few pokes instead of hours."""
    from airflow.dag_processing.dagbag import DagBag

    # The first step of the story: nothing is registered yet.
    status, _ = mlflow_server.request("GET", "registered-models/get", {"name": MODEL})
    assert status == 404
    dag = DagBag(dag_folder=str(DAGS_FOLDER)).dags["predict"]
    sensor = dag.get_task("wait_for_model")
    sensor.poke_interval, sensor.timeout = 1, 3
    capfd.readouterr()
    dag_run, states = _run(dag, WEEK_1[0], case=" (no model yet, 3 s timeout)")

    assert states == {"wait_for_raw_data": "success", "wait_for_model": "failed", "predict": "upstream_failed"}
    reschedules = reschedule_count(dag_run, "wait_for_model")
    # It asked MLflow, was told "not yet", rescheduled, and only the (shortened) timeout ended it.
    assert reschedules >= 1
    out, err = capfd.readouterr()
    assert f"Waiting for {PRODUCTION}: MLflow at {mlflow_server.host_uri}" in out + err
    assert "AirflowSensorTimeout: Sensor has timed out" in out + err
    assert not (DATA_DIR / "predictions" / _ds(WEEK_1[0])).exists()


def test_week_1_becomes_production(week_1, mlflow_server):
    dag_run, states = week_1
    _train_states_ok(states, dag_run)
    validate = _xcom(dag_run, "validate")
    assert (validate["decision"], validate["version"]) == ("promoted", "1")
    metrics = json.loads((DATA_DIR / "models" / _ds(WEEK_1[-1]) / "metrics.json").read_text())
    assert metrics["registry"]["decision"] == "promoted"
    assert metrics["registry"]["production_version"] is None
    assert mlflow_server.alias_version(MODEL, "production") == "1"
    # The version is the run train logged: the model's manifest names it.
    manifest = json.loads((DATA_DIR / "models" / _ds(WEEK_1[-1]) / "manifest.json").read_text())
    assert manifest["runId"] == _version(mlflow_server, "1")["run_id"]
    assert manifest["hyperparams"]["family"] == "mlp"


def test_week_2_is_worse_so_the_gate_rejects_it(week_2, mlflow_server):
    dag_run, states = week_2
    _train_states_ok(states, dag_run)
    validate = _xcom(dag_run, "validate")
    assert (validate["decision"], validate["version"]) == ("rejected", "2")
    record = json.loads((DATA_DIR / "models" / _ds(WEEK_2[-1]) / "metrics.json").read_text())["registry"]
    assert (record["production_version"], record["metric"]) == ("1", "roc_auc")
    assert record["candidate"] < record["production"]
    v2 = _version(mlflow_server, "2")
    assert v2["tags"]["gate_decision"] == "rejected"
    assert "rejected" in v2["tags"]
    assert mlflow_server.alias_version(MODEL, "production") == "1"
    # The trigger's hyperparameters reached the train CLI: the model's manifest records what it trained with.
    manifest = json.loads((DATA_DIR / "models" / _ds(WEEK_2[-1]) / "manifest.json").read_text())
    hyperparams = manifest["hyperparams"]
    assert (hyperparams["family"], hyperparams["epochs"], hyperparams["learning_rate"]) == ("logreg", 1, 0.00001)
    assert manifest["runId"] == v2["run_id"]


@pytest.fixture(scope="module")
def predicted_on_production(dags, week_2, no_model_ref):
    return _run(dags["predict"], WEEK_2[-1], case=" (model_ref unset)")


def test_predict_uses_the_production_alias_by_default(predicted_on_production):
    dag_run, states = predicted_on_production
    assert states == {"wait_for_raw_data": "success", "wait_for_model": "success", "predict": "success"}
    assert dag_run.state == "success"
    assert _xcom(dag_run, "wait_for_model")["version"] == "1"
    manifest = json.loads((DATA_DIR / "predictions" / _ds(WEEK_2[-1]) / "manifest.json").read_text())
    assert (manifest["model_ref"], manifest["model_version"]) == (PRODUCTION, "1")
    assert manifest["model_ds"] == _ds(WEEK_1[-1])
    lines = (DATA_DIR / "predictions" / _ds(WEEK_2[-1]) / "predictions.csv").read_text().splitlines()
    assert (lines[0], len(lines)) == ("id,probability,label", ROWS + 1)


@pytest.fixture(scope="module")
def promoted(dags, predicted_on_production):
    return _run(dags["promote_model"], None, conf={"version": 2}, case=" (version=2)")


def test_promote_model_moves_the_alias_by_hand(promoted, mlflow_server):
    dag_run, states = promoted
    assert (states, dag_run.state) == ({"promote": "success"}, "success")
    result = _xcom(dag_run, "promote")
    assert (result["alias"], result["version"], result["previous_version"]) == ("production", "2", "1")
    assert mlflow_server.alias_version(MODEL, "production") == "2"
    assert _version(mlflow_server, "2")["tags"]["promoted_by"] == "manual"


def test_the_next_predict_follows_the_alias(dags, promoted, no_model_ref):
    day = WEEK_2[-2]
    dag_run, states = _run(dags["predict"], day, case=" (after promotion)")
    assert states == {"wait_for_raw_data": "success", "wait_for_model": "success", "predict": "success"}
    manifest = json.loads((DATA_DIR / "predictions" / _ds(day) / "manifest.json").read_text())
    assert (manifest["model_ref"], manifest["model_version"]) == (PRODUCTION, "2")
    assert manifest["model_ds"] == _ds(WEEK_2[-1])


def test_promoting_a_version_that_does_not_exist_fails_and_changes_nothing(dags, promoted, mlflow_server):
    dag_run, states = _run(dags["promote_model"], None, conf={"version": 99}, case=" (version=99)")
    assert (states, dag_run.state) == ({"promote": "failed"}, "failed")
    assert mlflow_server.alias_version(MODEL, "production") == "2"
