"""generate_data: the day's synthetic classification data, raw/{ds}/data.csv and raw/{ds}/target.csv."""

from airflow.sdk import DAG, Param

from airflow_ml_dags.contract import cli_args, params
from airflow_ml_dags.defaults import dag_args
from airflow_ml_dags.monitoring import RAW_DATA
from airflow_ml_dags.operators import stage_task
from airflow_ml_dags.settings import load_settings

settings = load_settings()

with DAG(
    dag_id="generate_data",
    description="Generate the day's raw data (emulates data that keeps arriving)",
    doc_md=__doc__,
    params={
        "rows": Param(
            settings.generate_rows,
            type="integer",
            minimum=1,
            description="rows to generate for the day (GENERATE_ROWS)",
        ),
        **params("drift", drift_from=f"{settings.generate_drift_from or ''}"),
    },
    **dag_args("@daily", settings),
) as dag:
    stage_task(
        "generate",
        "generate",
        ["--ds", "{{ ds }}", "--rows", "{{ params.rows }}", *cli_args("drift")],
        settings=settings,
        outlets=[RAW_DATA],
    )
