"""train_model: waits for the raw data, then prepare -> split -> train -> validate into models/{ds}/."""

from airflow.sdk import DAG, Param, chain

from airflow_ml_dags.defaults import dag_args
from airflow_ml_dags.operators import stage_task
from airflow_ml_dags.sensors import wait_for_raw_data

with DAG(
    dag_id="train_model",
    description="Train and validate a model on the last days of raw data",
    doc_md=__doc__,
    params={
        "days": Param(1, type="integer", minimum=1, description="train on the raw data of the last N days"),
        "model": Param("mlp", enum=["mlp", "logreg", "tree"], description="model family"),
        "epochs": Param(20, type="integer", minimum=1, description="training epochs (mlp, logreg)"),
    },
    **dag_args("@weekly"),
) as dag:
    chain(
        wait_for_raw_data("wait_for_raw_data", names=("data.csv", "target.csv"), days="{{ params.days }}"),
        stage_task("prepare", "prepare", ["prepare", "--ds", "{{ ds }}", "--days", "{{ params.days }}"]),
        stage_task("split", "prepare", ["split", "--ds", "{{ ds }}"]),
        stage_task(
            "train",
            "train",
            ["--ds", "{{ ds }}", "--model", "{{ params.model }}", "--epochs", "{{ params.epochs }}"],
        ),
        stage_task("validate", "validate", ["--ds", "{{ ds }}"]),
    )
