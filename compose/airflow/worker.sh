#!/bin/bash
# A Celery worker of the queues WORKER_QUEUES names (separated by commas), or else of every queue the
# contract routes a stage to and Airflow's default queue (sensors, the review), so one worker alone runs a
# whole pipeline.
set -euo pipefail
queues=${WORKER_QUEUES:-$(python -c '
from airflow.configuration import conf
from airflow_ml_dags.contract import STAGES
queues = {conf.get("operators", "default_queue")} | {s["queue"] for s in STAGES.values()}
print(",".join(sorted(queues)))
')}
echo "celery worker of the queues: $queues"
exec airflow celery worker --queues "$queues"
