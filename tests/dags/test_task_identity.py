"""Which task try a task container is: the run key and try number in its environment, its name made from the run
key, and a retry replacing the container its failed try left. The names docker-proxy allows are the ones the
operator makes."""

from __future__ import annotations

import re
import subprocess
from datetime import timedelta
from types import SimpleNamespace

import pytest
from conftest import DAGS_FOLDER, REPO, pushed_xcom, run_dag

from airflow_ml_dags import contract
from airflow_ml_dags.operators import (
    CONTAINER_DIGEST_HEX,
    CONTAINER_PREFIX,
    RUN_KEY_ENV,
    TRY_NUMBER_ENV,
    container_name,
    run_key,
)

PROXY_CONFIG = REPO / "compose" / "docker-proxy" / "docker-proxy.cfg"
# Docker's rule for container names.
DOCKER_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")


def _ti(map_index=-1, run_id="scheduled__2026-11-20T00:00:00+00:00"):
    return SimpleNamespace(dag_id="train_model", task_id="train", run_id=run_id, map_index=map_index, try_number=3)


def test_the_names_come_from_the_contract():
    identity = contract.CONTRACT["task_identity"]
    assert (RUN_KEY_ENV, TRY_NUMBER_ENV, CONTAINER_PREFIX) == (
        identity["run_key_env"],
        identity["try_number_env"],
        identity["container_prefix"],
    )


@pytest.mark.parametrize(
    ("map_index", "key"),
    [
        (-1, "train_model/train/scheduled__2026-11-20T00:00:00+00:00"),
        (None, "train_model/train/scheduled__2026-11-20T00:00:00+00:00"),
        (0, "train_model/train/scheduled__2026-11-20T00:00:00+00:00/0"),
        (12, "train_model/train/scheduled__2026-11-20T00:00:00+00:00/12"),
    ],
)
def test_the_run_key_names_the_task_and_its_map_index(map_index, key):
    assert run_key(_ti(map_index)) == key


def test_a_container_name_is_a_docker_name_the_same_for_every_try_of_a_task():
    key = run_key(_ti())
    name = container_name(key)
    assert DOCKER_NAME.fullmatch(name)
    assert re.fullmatch(f"{re.escape(CONTAINER_PREFIX)}[0-9a-f]{{{CONTAINER_DIGEST_HEX}}}", name)
    assert name == container_name(run_key(_ti()))
    others = {container_name(run_key(_ti(0))), container_name(run_key(_ti(run_id="manual__2026-11-20")))}
    assert name not in others and len(others) == 2


def test_the_proxy_allows_exactly_the_operators_container_names():
    """docker-proxy is built from its own folder only, so its rules spell the contract's prefix themselves."""
    text = "\n".join(line for line in PROXY_CONFIG.read_text().splitlines() if not line.lstrip().startswith("#"))
    spelled = re.findall(r"([a-z][a-z0-9-]*-)\[0-9a-f\]\{(\d+)\}", text)
    # Removal by name, and the name of a creation.
    assert spelled == [(CONTAINER_PREFIX, str(CONTAINER_DIGEST_HEX))] * 2


@pytest.mark.docker
@pytest.mark.usefixtures("images", "airflow_db")
def test_a_timed_out_try_leaves_no_container_and_each_try_knows_itself(capfd):
    """generate_data's task, its script swapped for one that hangs on the first try: the try times out with its
    container still running, which goes with it; the retry runs under the same name, with nothing to remove.
    (A killed worker's leftover, which the retry does remove, is test_docker_access's.)"""
    from airflow.dag_processing.dagbag import DagBag

    # A private copy of the DAG: the changed task must not leak into the other tests.
    dag = DagBag(dag_folder=str(DAGS_FOLDER)).dags["generate_data"]
    task = dag.get_task("generate")
    script = f'echo "${RUN_KEY_ENV}|${TRY_NUMBER_ENV}"; [ "${TRY_NUMBER_ENV}" != 1 ] || exec sleep 600'
    task.entrypoint = ["sh", "-c", script]
    task.execution_timeout = timedelta(seconds=8)
    task.retries, task.retry_delay, task.retry_exponential_backoff = 1, timedelta(0), False
    logical_date = dag.start_date + timedelta(days=5)  # a day no other test runs
    capfd.readouterr()

    dag_run, states = run_dag(dag, logical_date, label="dag.test generate_data (a timed-out try, then a retry)")

    out, err = capfd.readouterr()
    assert states == {"generate": "success"}, out + err
    key = f"generate_data/generate/{dag_run.run_id}"
    assert pushed_xcom(dag_run, "generate").strip() == f"{key}|2"
    assert f"{key}|1" in out + err and "Timeout" in out + err
    assert "removed the container of an earlier try" not in out + err
    # The retry's own container went on success.
    name = container_name(key)
    done = subprocess.run(["docker", "ps", "-aq", "--filter", f"name=^{name}$"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == ""
