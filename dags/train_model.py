"""train_model: waits for the raw data, then prepare -> split -> train -> validate into models/{ds}/.

With MLflow on, train logs the run and validate registers the model as a new version; the quality gate gives
it the ``production`` alias only if it beats the current production version on ``gate_metric`` by at least
``gate_margin``, else tags it ``rejected`` (``promote_model`` overrides the gate by hand). ``days`` is the
window of raw data, ``threshold`` the probability from which validate labels a row 1; the other Params are the
train CLI's hyperparameters. Every Param, its default and its
bounds come from the pipeline contract (contract/pipeline.json), as the images' options do. Besides its weekly
slot it runs when the monitor's alarm emits ``retrain_requested``; such a run has no logical date, so its run
date is the alarm's day (``RUN_DS``).
"""

from airflow.sdk import DAG, chain

from airflow_ml_dags.contract import cli_args, params
from airflow_ml_dags.defaults import dag_args
from airflow_ml_dags.monitoring import MODELS, RETRAIN_REQUESTED, RUN_DS, retrain_ds
from airflow_ml_dags.operators import stage_task
from airflow_ml_dags.sensors import wait_for_files
from airflow_ml_dags.settings import load_settings

settings = load_settings()

with DAG(
    dag_id="train_model",
    description="Train and validate a model on the last days of raw data; the quality gate picks production",
    doc_md=__doc__,
    params={**params("window"), **params("hyperparameters"), **params("gate"), **params("scoring")},
    user_defined_macros={"retrain_ds": retrain_ds},
    # Weekly, or as soon as the monitor asks for a model trained on newer data.
    **dag_args("@weekly", settings, or_assets=[RETRAIN_REQUESTED]),
) as dag:
    ds = ["--ds", RUN_DS]
    raw = ("raw_data", "raw_target")
    chain(
        wait_for_files("wait_for_raw_data", keys=raw, days="{{ params.days }}", ds=RUN_DS, settings=settings),
        stage_task("prepare", "prepare", [*ds, *cli_args("window")], settings=settings),
        stage_task("split", "split", ds, settings=settings),
        stage_task("train", "train", [*ds, *cli_args("hyperparameters")], settings=settings),
        stage_task(
            "validate", "validate", [*ds, *cli_args("gate"), *cli_args("scoring")], settings=settings, outlets=[MODELS]
        ),
    )
