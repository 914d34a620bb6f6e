"""promote_model: points an alias of the registered model at a version, by hand.

The documented way to promote a version the quality gate rejected, or to roll back: trigger it with
``{"version": 3}`` (and ``"alias"``, ``production`` by default). predict runs that start afterwards use it.
"""

from airflow.sdk import DAG, Param

from airflow_ml_dags.contract import MODEL_ALIAS
from airflow_ml_dags.defaults import manual_dag_args
from airflow_ml_dags.operators import stage_task
from airflow_ml_dags.settings import PRODUCTION_ALIAS, load_settings

settings = load_settings()

with DAG(
    dag_id="promote_model",
    description=f"Point an alias (default {PRODUCTION_ALIAS}) of {settings.mlflow_registered_model} at a version",
    doc_md=__doc__,
    params={
        # No default: promoting a version nobody chose would be worse than refusing to start.
        "version": Param(type="integer", minimum=1, description="model version to point the alias at"),
        "alias": Param(
            PRODUCTION_ALIAS,
            type="string",
            pattern=f"^{MODEL_ALIAS.pattern}$",
            description="alias to move (letters, digits, _ and -)",
        ),
    },
    **manual_dag_args(settings),
) as dag:
    # It only talks to MLflow: the contract's promote stage reads and writes no file, so no data folder.
    stage_task(
        "promote", "promote", ["--version", "{{ params.version }}", "--alias", "{{ params.alias }}"], settings=settings
    )
