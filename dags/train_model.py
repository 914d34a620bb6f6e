"""train_model: waits for the raw data, then prepare -> split -> train -> validate into models/{ds}/, then a person
decides the rollout.

With MLflow on, train logs the run and validate registers the model as a new version and runs the quality gate
against the current production version (``gate_metric``, ``gate_margin``); a version the gate rejects is tagged
``rejected`` and goes no further. Under ``approval=required`` (the default) a version the gate passes waits in
``review`` (Required Actions in the UI) with its numbers beside production's; the answer runs
``promote_approved`` (it takes the ``production`` alias) or ``record_rejection``; no answer within
``approval_timeout_days`` is a rejection and an alert. The registry's first version and every version under
``approval=gate`` are decided by the gate alone, and ``review`` is skipped (``airflow_ml_dags.approval``).
``promote_model`` overrides any decision by hand. ``days`` is the window of raw data, ``threshold`` the
probability from which validate labels a row 1; the other Params are the train CLI's hyperparameters. Every
Param, its default and its bounds come from the pipeline contract (contract/pipeline.json), as the images'
options do. Besides its weekly slot it runs when the monitor's alarm emits ``retrain_requested``; such a run has
no logical date, so its run date is the alarm's day (``RUN_DS``).
"""

from airflow.sdk import DAG, chain

from airflow_ml_dags.approval import ModelReview, decision_arg
from airflow_ml_dags.contract import cli_args, params
from airflow_ml_dags.defaults import dag_args
from airflow_ml_dags.monitoring import MODELS, RETRAIN_REQUESTED, RUN_DS, retrain_ds
from airflow_ml_dags.operators import stage_task
from airflow_ml_dags.sensors import wait_for_files
from airflow_ml_dags.settings import load_settings

settings = load_settings()

with DAG(
    dag_id="train_model",
    description="Train and validate a model on the last days of raw data; the gate pre-screens, a person decides",
    doc_md=__doc__,
    params={
        **params("window"),
        **params("hyperparameters"),
        **params("gate"),
        **params("scoring"),
        **params("approval"),
    },
    user_defined_macros={"retrain_ds": retrain_ds},
    # Weekly, or as soon as the monitor asks for a model trained on newer data.
    **dag_args("@weekly", settings, or_assets=[RETRAIN_REQUESTED]),
) as dag:
    ds = ["--ds", RUN_DS]
    raw = ("raw_data", "raw_target")
    review = ModelReview(
        task_id="review",
        settings=settings,
        validate_task_id="validate",
        promote_task_id="promote_approved",
        reject_task_id="record_rejection",
        run_ds=RUN_DS,
        # The wait is the response timeout's (a Param), not the one-hour limit every task has.
        execution_timeout=None,
    )
    decided = ["--comment", decision_arg("comment", "review"), "--decided-at", decision_arg("at", "review")]
    chain(
        wait_for_files("wait_for_raw_data", keys=raw, days="{{ params.days }}", ds=RUN_DS, settings=settings),
        stage_task("prepare", "prepare", [*ds, *cli_args("window")], settings=settings),
        stage_task("split", "split", ds, settings=settings),
        stage_task("train", "train", [*ds, *cli_args("hyperparameters")], settings=settings),
        stage_task(
            "validate",
            "validate",
            [*ds, *cli_args("gate"), *cli_args("scoring"), *cli_args("approval")],
            settings=settings,
            outlets=[MODELS],
        ),
        review,
        [
            stage_task(
                "promote_approved",
                "promote_approved",
                [*ds, "--approved-by", decision_arg("by", "review"), *decided],
                settings=settings,
            ),
            stage_task(
                "record_rejection",
                "record_rejection",
                [*ds, "--rejected-by", decision_arg("by", "review"), "--ended-by", decision_arg("ended_by", "review"),
                 *decided],
                settings=settings,
            ),
        ],
    )
