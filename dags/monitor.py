"""monitor: every day, the production model's quality on the day's labels, and the drift of the day's data and
scores against what the model was trained and validated on.

Labels count as arrived with the day's data: generate writes ``raw/{ds}/target.csv`` beside ``data.csv``, so the
run for ``ds`` waits for that day's predictions and labels. The monitor image writes ``monitoring/{ds}/report.json``
and the report page ``report.html`` (``monitoring/index.html`` lists the days) and logs the day's metrics on the
model version's monitoring run in MLflow. Over a threshold (the contract's ``monitoring`` options, Params here)
``act_on_alarms`` alerts and ``request_retrain`` emits the Asset that makes ``train_model`` run early.
"""

from airflow.providers.standard.operators.python import PythonOperator, ShortCircuitOperator
from airflow.sdk import DAG

from airflow_ml_dags.contract import cli_args, params
from airflow_ml_dags.defaults import dag_args
from airflow_ml_dags.monitoring import MONITORING, RETRAIN_REQUESTED, act_on_alarms, request_retrain
from airflow_ml_dags.operators import stage_task
from airflow_ml_dags.sensors import wait_for_files
from airflow_ml_dags.settings import load_settings

settings = load_settings()

with DAG(
    dag_id="monitor",
    description="The production model's quality on the day's labels, and data and prediction drift; alarms retrain",
    doc_md=__doc__,
    params=params("monitoring"),
    **dag_args("@daily", settings),
) as dag:
    waits = [
        wait_for_files("wait_for_predictions", keys=("predictions", "predictions_manifest"), settings=settings),
        wait_for_files("wait_for_labels", keys=("raw_target",), settings=settings),
    ]
    monitor = stage_task(
        "monitor", "monitor", ["--ds", "{{ ds }}", *cli_args("monitoring")], settings=settings, outlets=[MONITORING]
    )
    alarms = ShortCircuitOperator(task_id="act_on_alarms", python_callable=act_on_alarms(settings))
    # Its outlet's event is what train_model's schedule waits for besides the week.
    retrain = PythonOperator(task_id="request_retrain", python_callable=request_retrain, outlets=[RETRAIN_REQUESTED])
    waits >> monitor >> alarms >> retrain
