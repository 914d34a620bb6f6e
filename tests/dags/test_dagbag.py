"""The DAG files as Airflow parses them: they load, fast, with the expected wiring and only our images."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from conftest import DAGS_FOLDER, REPO, STAGES, TIMINGS
from docker.types import Mount

DAG_FILES = sorted(DAGS_FOLDER.glob("*.py"))
HEAVY = ("pandas", "numpy", "sklearn", "mlflow")

STRUCTURE = {
    "generate_data": {"generate": set()},
    "train_model": {
        "wait_for_raw_data": {"prepare"},
        "prepare": {"split"},
        "split": {"train"},
        "train": {"validate"},
        "validate": set(),
    },
    "predict": {"wait_for_raw_data": {"predict"}, "predict": set()},
}

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
    from airflow.providers.docker.operators.docker import DockerOperator
    from airflow.sdk import BaseSensorOperator

    prefix, version = os.environ.get("IMAGE_PREFIX", "airflow-ml-dags"), _expected_version()
    images = {f"{prefix}/{stage}:{version}" for stage in STAGES}
    host = os.environ["HOST_DATA_DIR"]
    computing = [t for t in dagbag.dags[dag_id].tasks if not isinstance(t, BaseSensorOperator)]
    assert computing
    for task in computing:
        assert type(task) is DockerOperator, task.task_id
        assert task.image in images, task.task_id
        assert task.mounts == [Mount(target="/data", source=host, type="bind")], task.task_id
        assert task.mount_tmp_dir is False
        assert task.auto_remove == "success"
        assert task.command[-2:] == ["--data-dir", "/data"]
        assert task.retries == int(os.environ["TASK_RETRIES"])


def _expected_version() -> str:
    return os.environ.get("IMAGE_VERSION") or (REPO / "VERSION").read_text().strip()


@pytest.mark.parametrize(
    ("dag_id", "expected"), [("train_model", ("data.csv", "target.csv")), ("predict", ("data.csv",))]
)
def test_sensors_wait_in_reschedule_mode_for_what_the_next_task_reads(dagbag, dag_id, expected):
    sensor = dagbag.dags[dag_id].get_task("wait_for_raw_data")
    assert sensor.names == expected
    assert sensor.mode == "reschedule"
    assert sensor.fs_conn_id == "fs_default"
    assert 0 < sensor.poke_interval < sensor.timeout


def test_train_sensor_and_prepare_read_the_same_days(dagbag):
    dag = dagbag.dags["train_model"]
    assert dag.get_task("wait_for_raw_data").days == "{{ params.days }}"
    assert dag.get_task("prepare").command[:5] == ["prepare", "--ds", "{{ ds }}", "--days", "{{ params.days }}"]
    assert dag.params["days"] == 1


def test_predict_reads_model_ref_only_when_it_renders(dagbag):
    command = dagbag.dags["predict"].get_task("predict").command
    assert command[command.index("--model") + 1] == "{{ container_path(var.value.model_ref) }}"


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
    timetable = coerce_to_core_timetable(dag.timetable)
    assert isinstance(timetable, CronTriggerTimetable)
    assert dag.timetable.expression == cron
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
