"""predict: waits for raw/{ds}/data.csv, scores it with the model the Variable ``model_ref`` names.

``model_ref`` is a model folder relative to the data folder (e.g. ``models/2026-11-20``). It is read when the
task renders, never while the file parses.
"""

from airflow.sdk import DAG

from airflow_ml_dags.defaults import dag_args
from airflow_ml_dags.operators import stage_task
from airflow_ml_dags.paths import container_path
from airflow_ml_dags.sensors import wait_for_raw_data

with DAG(
    dag_id="predict",
    description="Score the day's raw data with the model named by the model_ref Variable",
    doc_md=__doc__,
    user_defined_macros={"container_path": container_path},
    **dag_args("@daily"),
) as dag:
    (
        wait_for_raw_data("wait_for_raw_data", names=("data.csv",))
        >> stage_task(
            "predict",
            "predict",
            ["--ds", "{{ ds }}", "--model", "{{ container_path(var.value.model_ref) }}"],
        )
    )
