"""The DAG files as Airflow parses them: they load, fast, with the expected wiring and only our images."""

from __future__ import annotations

import ast
import copy
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from conftest import DAGS_FOLDER, REPO, STAGES, TIMINGS
from docker.types import Mount

from airflow_ml_dags.monitoring import RUN_DS

DAG_FILES = sorted(DAGS_FOLDER.glob("*.py"))
HEAVY = ("pandas", "numpy", "sklearn", "mlflow")

STRUCTURE = {
    "generate_data": {"generate": set()},
    "train_model": {
        "wait_for_raw_data": {"prepare"},
        "prepare": {"split"},
        "split": {"train"},
        "train": {"validate"},
        # The gate pre-screens in validate; a person decides between the two branches.
        "validate": {"review"},
        "review": {"promote_approved", "record_rejection"},
        "promote_approved": set(),
        "record_rejection": set(),
    },
    "predict": {"wait_for_raw_data": {"predict"}, "wait_for_model": {"predict"}, "predict": set()},
    "promote_model": {"promote": set()},
    "monitor": {
        "wait_for_predictions": {"monitor"},
        "wait_for_labels": {"monitor"},
        "monitor": {"act_on_alarms"},
        "act_on_alarms": {"request_retrain"},
        "request_retrain": set(),
    },
}
# Tasks that compute nothing: they read the monitor's verdict, alert and emit the retrain request.
CONTROL = {("monitor", "act_on_alarms"), ("monitor", "request_retrain"), ("train_model", "review")}
# Tasks that only talk to MLflow: no data folder mounted, no --data-dir (their CLI has none).
NO_DATA = {("promote_model", "promote")}

# Parses the DAG folder in a fresh interpreter, as the DAG processor does: Airflow itself is loaded first (the
# processor has it), so the time is what our files cost, their imports (Docker provider, our package) included.
_PARSE_SCRIPT = """
import json, sys, time
from airflow.dag_processing.dagbag import DagBag
assert not {"airflow_ml_dags", "airflow.providers.docker.operators.docker", "docker"} & set(sys.modules)
started = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
seconds = time.perf_counter() - started
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[2].split(",")))
print(json.dumps({"seconds": seconds, "dags": sorted(bag.dags), "errors": bag.import_errors, "heavy": heavy,
                  "files": {s.file: s.duration.total_seconds() for s in bag.dagbag_stats}}))
"""


@pytest.fixture(scope="module")
def fresh_parse():
    out = subprocess.run(
        [sys.executable, "-c", _PARSE_SCRIPT, str(DAGS_FOLDER), ",".join(HEAVY)],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert sorted(dagbag.dags) == sorted(STRUCTURE)


def test_all_dag_files_parse_in_under_two_seconds(fresh_parse):
    assert fresh_parse["errors"] == {}
    assert sorted(fresh_parse["dags"]) == sorted(STRUCTURE)
    TIMINGS["parse of all DAG files"] = fresh_parse["seconds"]
    TIMINGS.update({f"parse {name}": seconds for name, seconds in fresh_parse["files"].items()})
    assert fresh_parse["seconds"] < 2.0


def test_parsing_loads_no_heavy_library(fresh_parse):
    assert fresh_parse["heavy"] == []


@pytest.mark.parametrize("dag_id", sorted(STRUCTURE))
def test_structure(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert {t.task_id: set(t.downstream_task_ids) for t in dag.tasks} == STRUCTURE[dag_id]


@pytest.mark.parametrize("dag_id", sorted(STRUCTURE))
def test_every_computing_task_is_one_of_our_containers(dagbag, dag_id):
    from airflow.sdk import BaseSensorOperator

    from airflow_ml_dags.operators import TaskContainerOperator

    prefix, version = os.environ.get("IMAGE_PREFIX", "airflow-ml-dags"), _expected_version()
    images = {f"{prefix}/{stage}:{version}" for stage in STAGES}
    host = os.environ["HOST_DATA_DIR"]
    computing = [
        t for t in dagbag.dags[dag_id].tasks
        if not isinstance(t, BaseSensorOperator) and (dag_id, t.task_id) not in CONTROL
    ]  # fmt: skip
    assert computing
    for task in computing:
        assert type(task) is TaskContainerOperator, task.task_id
        assert task.image in images, task.task_id
        if (dag_id, task.task_id) in NO_DATA:
            assert task.mounts == [], task.task_id
            assert "--data-dir" not in task.command
        else:
            assert task.mounts == [Mount(target="/data", source=host, type="bind")], task.task_id
            assert task.command[-2:] == ["--data-dir", "/data"]
        assert task.mount_tmp_dir is False
        assert task.auto_remove == "force"
        assert task.retries == int(os.environ["TASK_RETRIES"])
        # The images register under the name the default model_ref names (MLflow itself is off in this env).
        # and the image records its own name (AML_IMAGE) beside what it trains or scores.
        assert task.environment == {
            "MLFLOW_REGISTERED_MODEL": "airflow-ml-dags-classifier",
            "AML_IMAGE": task.image,
        }, task.task_id


@pytest.mark.parametrize("dag_id", sorted(STRUCTURE))
def test_every_task_is_on_its_stages_queue_and_the_rest_on_airflows_default(dagbag, dag_id):
    from airflow.configuration import conf

    from airflow_ml_dags import contract

    default_queue = conf.get("operators", "default_queue")
    stages = []
    for task in dagbag.dags[dag_id].tasks:
        # The factory labels every task container with its stage; the other tasks run no container.
        stage = (getattr(task, "labels", None) or {}).get("airflow-ml-dags.stage")
        stages.append(stage)
        expected = contract.STAGES[stage]["queue"] if stage else default_queue
        assert task.queue == expected, (task.task_id, stage)
    assert any(stages)


def test_the_contracts_default_queue_is_airflows_own():
    """The stages that need no workers of their own share the queue the sensors and the review go to: Airflow's
    default (the shipped one, which the deployment keeps)."""
    from airflow.configuration import conf

    from airflow_ml_dags import contract

    shipped = conf.get_default_value("operators", "default_queue")
    assert conf.get("operators", "default_queue") == shipped
    queues = {name: spec["queue"] for name, spec in contract.STAGES.items()}
    assert queues.pop("train") == "training"
    assert set(queues.values()) == {shipped}


def _expected_version() -> str:
    return os.environ.get("IMAGE_VERSION") or (REPO / "VERSION").read_text().strip()


@pytest.mark.parametrize(
    ("dag_id", "expected"), [("train_model", ("raw_data", "raw_target")), ("predict", ("raw_data",))]
)
def test_sensors_wait_in_reschedule_mode_for_what_the_next_task_reads(dagbag, dag_id, expected):
    sensor = dagbag.dags[dag_id].get_task("wait_for_raw_data")
    assert sensor.keys == expected
    assert sensor.mode == "reschedule"
    assert sensor.fs_conn_id == "fs_default"
    assert 0 < sensor.poke_interval < sensor.timeout


def test_predict_waits_for_the_model_it_will_load(dagbag):
    from airflow_ml_dags.sensors import ModelSensor

    dag = dagbag.dags["predict"]
    sensor = dag.get_task("wait_for_model")
    assert type(sensor) is ModelSensor
    assert sensor.mode == "reschedule"
    assert sensor.fs_conn_id == "fs_default"
    assert 0 < sensor.poke_interval < sensor.timeout
    # Rendered per run from the same Variable (and default) as predict's --model.
    assert sensor.model_ref == "{{ var.value.get('model_ref', default_model_ref) }}"
    # MLflow is not configured in this environment: registry refs fail at once instead of waiting.
    assert sensor.mlflow_uri is None


def test_train_sensor_and_prepare_read_the_same_days(dagbag):
    dag = dagbag.dags["train_model"]
    assert dag.get_task("wait_for_raw_data").days == "{{ params.days }}"
    assert dag.get_task("wait_for_raw_data").ds == RUN_DS
    assert dag.get_task("prepare").command[:5] == ["prepare", "--ds", RUN_DS, "--days", "{{ params.days }}"]
    assert dag.params["days"] == 1


def test_predict_scores_what_the_sensor_resolved_with_production_as_the_default(dagbag):
    dag = dagbag.dags["predict"]
    command = dag.get_task("predict").command
    # The Variable is read once, by the sensor; predict takes the version it found and records the reference.
    assert command[command.index("--model") + 1] == "{{ ti.xcom_pull(task_ids='wait_for_model')['resolved'] }}"
    assert command[command.index("--model-ref") + 1] == "{{ ti.xcom_pull(task_ids='wait_for_model')['model_ref'] }}"
    assert dag.user_defined_macros["default_model_ref"] == "models:/airflow-ml-dags-classifier@production"


def _resolve(dag, conf):
    """The Params a run triggered with ``conf`` would get; raises ParamValidationError as a trigger would fail."""
    params = copy.deepcopy(dag.params)
    params.update(conf)
    return params.validate()


def test_train_passes_every_hyperparameter_and_validate_runs_the_gate(dagbag):
    contract = json.loads((REPO / "contract" / "pipeline.json").read_text())
    dag = dagbag.dags["train_model"]
    train = dag.get_task("train").command
    for param in contract["options"]["hyperparameters"]:
        option = "--" + param.replace("_", "-")
        assert train[train.index(option) + 1] == f"{{{{ params.{param} }}}}", option
    validate = dag.get_task("validate").command
    assert validate[:3] == ["validate", "--ds", RUN_DS]
    assert validate[validate.index("--gate-metric") + 1] == "{{ params.gate_metric }}"
    assert validate[validate.index("--gate-margin") + 1] == "{{ params.gate_margin }}"
    # The defaults are the contract's, as the CLIs', so an untouched trigger trains what the images would.
    groups = ("window", "hyperparameters", "gate", "scoring", "approval")
    assert _resolve(dag, {}) == {n: o["default"] for g in groups for n, o in contract["options"][g].items()}
    assert _resolve(dag, {})["family"] == "mlp"


@pytest.mark.parametrize(
    "conf",
    [{"family": "svm"}, {"epochs": 0}, {"learning_rate": 0}, {"l2": -1}, {"gate_metric": "auc"}, {"gate_margin": -0.1}],
    ids=lambda c: next(iter(c)),
)
def test_train_refuses_values_the_clis_would_refuse(dagbag, conf):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError):
        _resolve(dagbag.dags["train_model"], conf)


def test_promote_model_is_manual_and_needs_a_version(dagbag):
    from airflow.sdk.exceptions import ParamValidationError

    dag = dagbag.dags["promote_model"]
    assert dag.timetable.can_be_scheduled is False
    task = dag.get_task("promote")
    assert task.image.split("/")[-1].startswith("validate:")
    assert task.command == ["promote", "--version", "{{ params.version }}", "--alias", "{{ params.alias }}"]
    assert _resolve(dag, {"version": 3}) == {"version": 3, "alias": "production"}
    assert _resolve(dag, {"version": 1, "alias": "staging"}) == {"version": 1, "alias": "staging"}
    for conf in ({}, {"version": 0}, {"version": "two"}, {"version": 2, "alias": "pro duction"}):
        with pytest.raises(ParamValidationError):
            _resolve(dag, conf)


def test_generate_rows_default_is_the_setting(dagbag):
    assert _resolve(dagbag.dags["generate_data"], {}) == {"rows": 5000, "drift_from": "", "drift_size": 1.5}


@pytest.mark.parametrize(
    ("dag_id", "cron", "runs"),
    [("generate_data", "0 0 * * *", 7), ("predict", "0 0 * * *", 7), ("train_model", "0 0 * * 0", 1)],
)
def test_a_fresh_deployment_fills_the_last_week_in_order(dagbag, dag_id, cron, runs):
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import TimeRestriction
    from airflow.timetables.trigger import CronTriggerTimetable

    dag = dagbag.dags[dag_id]
    assert (dag.catchup, dag.max_active_runs, dag.is_paused_upon_creation) == (True, 1, False)
    # train_model's week may also start early on the monitor's retrain request: its time part is what fills.
    sdk_timetable = getattr(dag.timetable, "timetable", dag.timetable)
    timetable = coerce_to_core_timetable(sdk_timetable)
    assert isinstance(timetable, CronTriggerTimetable)
    assert sdk_timetable.expression == cron
    start = dag.start_date
    # The parse's own "today" (start_date + 6 days), not the clock now: the test may run past midnight.
    parsed_on = start + timedelta(days=6)
    assert (start.hour, start.minute, start.second) == (0, 0, 0)
    assert parsed_on <= datetime.now(UTC) < parsed_on + timedelta(days=2)
    restriction = TimeRestriction(earliest=start, latest=parsed_on + timedelta(hours=23, minutes=59), catchup=True)
    dates, last = [], None
    while (info := timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)) is not None:
        dates.append(info.logical_date)
        last = info.data_interval
    assert len(dates) == runs
    assert dates == sorted(dates)
    assert start <= dates[0] and dates[-1] <= parsed_on


# ---- what DAG files may do at parse time ----


def _module_level_nodes(tree: ast.Module):
    """Every node that runs when the module is imported (function bodies and lambdas excluded)."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                stack.append(child)


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_imports_no_heavy_library(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & set(HEAVY)


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_reads_no_variable_at_module_level(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    reads = [
        ast.unparse(node)
        for node in _module_level_nodes(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and "Variable" in ast.unparse(node.func.value)
    ]
    assert reads == []


def test_parsing_never_calls_variable_get(monkeypatch):
    """Belt and braces for the AST check: a Variable read at parse time, however spelled, becomes an import error."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.variable import Variable as CoreVariable
    from airflow.sdk import Variable

    def refuse(*args, **kwargs):
        raise AssertionError(f"Variable read at parse time: {args}")

    monkeypatch.setattr(Variable, "get", refuse)
    monkeypatch.setattr(CoreVariable, "get", refuse)
    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    assert bag.import_errors == {}
    assert sorted(bag.dags) == sorted(STRUCTURE)


def test_deployment_settings_reach_the_dags(monkeypatch):
    """The env a deployment sets (compose, or the scenario test) as the DAG files see it at parse time."""
    from airflow.dag_processing.dagbag import DagBag

    for name, value in {
        "PIPELINE_START_DATE": "2026-11-02",
        "PIPELINE_END_DATE": "2026-11-08",
        "GENERATE_ROWS": "123",
        "GENERATE_DRIFT_FROM": "2026-11-06",
        "MLFLOW_TRACKING_URI": "http://mlflow:5000",
        "AIRFLOW_MLFLOW_URI": "http://127.0.0.1:5001",
        "MLFLOW_REGISTERED_MODEL": "churn",
    }.items():
        monkeypatch.setenv(name, value)
    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    assert bag.import_errors == {}
    for dag_id in ("generate_data", "train_model", "predict"):
        dag = bag.dags[dag_id]
        assert (dag.start_date, dag.end_date) == (datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 8, tzinfo=UTC))
    assert _resolve(bag.dags["generate_data"], {}) == {"rows": 123, "drift_from": "2026-11-06", "drift_size": 1.5}
    predict = bag.dags["predict"]
    assert predict.get_task("wait_for_model").mlflow_uri == "http://127.0.0.1:5001"
    assert predict.user_defined_macros["default_model_ref"] == "models:/churn@production"
    for dag in bag.dags.values():
        for task in dag.tasks:
            if task.task_id not in ("wait_for_raw_data", "wait_for_model", "wait_for_predictions", "wait_for_labels",
                                    "act_on_alarms", "request_retrain", "review"):  # fmt: skip
                assert task.environment == {
                    "MLFLOW_TRACKING_URI": "http://mlflow:5000",
                    "MLFLOW_REGISTERED_MODEL": "churn",
                    "AML_IMAGE": task.image,
                }
