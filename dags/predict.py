"""predict: scores raw/{ds}/data.csv with the model the Variable ``model_ref`` names.

``model_ref`` is read when the tasks render, never while the file parses. Unset, it means the registry's
production model, ``models:/<MLFLOW_REGISTERED_MODEL>@production``; it may also name another alias or a version
(``models:/<name>/3``) or a model folder relative to the data folder (``models/2026-11-20``).
``wait_for_model`` waits until that model exists, so on a fresh deployment the first days wait for the first
production model instead of failing, and resolves it once: predict scores the version the sensor found (the
alias may move in between) and records both in ``predictions/{ds}/manifest.json``.
"""

from airflow.sdk import DAG

from airflow_ml_dags.contract import cli_args, params
from airflow_ml_dags.defaults import dag_args
from airflow_ml_dags.model_refs import MODEL_REF_TEMPLATE, macros, resolved_template
from airflow_ml_dags.monitoring import PREDICTIONS
from airflow_ml_dags.operators import stage_task
from airflow_ml_dags.sensors import wait_for_files, wait_for_model
from airflow_ml_dags.settings import load_settings

settings = load_settings()

with DAG(
    dag_id="predict",
    description="Score the day's raw data with the model named by the model_ref Variable (default: production)",
    doc_md=__doc__,
    user_defined_macros=macros(settings.default_model_ref),
    params=params("scoring"),
    **dag_args("@daily", settings),
) as dag:
    model = [
        *("--model", resolved_template("wait_for_model", "resolved")),
        *("--model-ref", resolved_template("wait_for_model", "model_ref")),
    ]
    [
        wait_for_files("wait_for_raw_data", keys=("raw_data",), settings=settings),
        wait_for_model("wait_for_model", MODEL_REF_TEMPLATE, settings=settings),
    ] >> stage_task(
        "predict", "predict", ["--ds", "{{ ds }}", *model, *cli_args("scoring")], settings=settings, outlets=[PREDICTIONS]
    )
