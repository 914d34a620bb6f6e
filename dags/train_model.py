"""train_model: waits for the raw data, then prepare -> split -> train -> validate into models/{ds}/.

With MLflow on, train logs the run and validate registers the model as a new version; the quality gate gives
it the ``production`` alias only if it beats the current production version on ``gate_metric`` by at least
``gate_margin``, else tags it ``rejected`` (``promote_model`` overrides the gate by hand). The other Params are
the train CLI's hyperparameters, with its defaults and limits.
"""

from airflow.sdk import DAG, Param, chain

from airflow_ml_dags.defaults import dag_args
from airflow_ml_dags.hyperparams import GATE_OPTIONS, TRAIN_OPTIONS, cli_args, gate_params, train_params
from airflow_ml_dags.operators import stage_task
from airflow_ml_dags.sensors import wait_for_raw_data
from airflow_ml_dags.settings import load_settings

settings = load_settings()

with DAG(
    dag_id="train_model",
    description="Train and validate a model on the last days of raw data; the quality gate picks production",
    doc_md=__doc__,
    params={
        "days": Param(1, type="integer", minimum=1, description="train on the raw data of the last N days"),
        **train_params(),
        **gate_params(),
    },
    **dag_args("@weekly", settings),
) as dag:
    days = "{{ params.days }}"
    chain(
        wait_for_raw_data("wait_for_raw_data", names=("data.csv", "target.csv"), days=days, settings=settings),
        stage_task("prepare", "prepare", ["prepare", "--ds", "{{ ds }}", "--days", days], settings=settings),
        stage_task("split", "prepare", ["split", "--ds", "{{ ds }}"], settings=settings),
        stage_task("train", "train", ["--ds", "{{ ds }}", *cli_args(TRAIN_OPTIONS)], settings=settings),
        stage_task(
            "validate", "validate", ["validate", "--ds", "{{ ds }}", *cli_args(GATE_OPTIONS)], settings=settings
        ),
    )
