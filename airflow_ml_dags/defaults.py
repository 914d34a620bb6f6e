"""What every DAG of the project shares: default_args and the scheduling that fills the last days in order."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable

from airflow_ml_dags.alerts import failure_alert
from airflow_ml_dags.settings import Settings, load_settings


def default_args(settings: Settings | None = None) -> dict[str, Any]:
    settings = settings or load_settings()
    return {
        "owner": "ml",
        "depends_on_past": False,
        "retries": settings.task_retries,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=15),
        "execution_timeout": timedelta(hours=1),
        # Every task, sensors included, alerts when it fails for good (not on the tries before).
        "on_failure_callback": failure_alert(settings),
    }


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def start_date(settings: Settings | None = None, now: datetime | None = None) -> datetime:
    """Midnight UTC ``backfill_days - 1`` days ago, so that with catchup a fresh deployment runs the last
    ``backfill_days`` days (today included) and no more; or midnight of ``PIPELINE_START_DATE`` when set.

    It moves once a day; the scheduler only uses it for DAGs that have no run yet, later runs follow the last one.
    """
    settings = settings or load_settings()
    if settings.pipeline_start_date is not None:
        return _midnight(settings.pipeline_start_date)
    now = now or datetime.now(UTC)
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=settings.backfill_days - 1)


def end_date(settings: Settings | None = None) -> datetime | None:
    """Midnight UTC of ``PIPELINE_END_DATE`` (a run whose logical date is the end date is still made), or None."""
    settings = settings or load_settings()
    return None if settings.pipeline_end_date is None else _midnight(settings.pipeline_end_date)


def schedule(cron: str) -> CronTriggerTimetable:
    """A cron trigger in UTC: the run for ``ds`` starts at ``ds`` itself (no data-interval shift), whatever
    the deployment's ``create_cron_data_intervals`` says."""
    return CronTriggerTimetable(cron, timezone="UTC")


def dag_args(cron: str, settings: Settings | None = None, *, or_assets: list[Any] | None = None) -> dict[str, Any]:
    """Arguments of every DAG: catchup over the last days (unless PIPELINE_CATCHUP=false), one run at a time so
    days go in order; with ``or_assets``, an event of any of them starts a run too (AssetOrTimeSchedule)."""
    settings = settings or load_settings()
    timetable = schedule(cron)
    return {
        "schedule": AssetOrTimeSchedule(timetable=timetable, assets=or_assets) if or_assets else timetable,
        "start_date": start_date(settings),
        "end_date": end_date(settings),
        "catchup": settings.catchup,
        "max_active_runs": 1,
        "is_paused_upon_creation": False,
        "default_args": default_args(settings),
        "tags": ["airflow-ml-dags"],
    }


def manual_dag_args(settings: Settings | None = None) -> dict[str, Any]:
    """Arguments of a DAG that only runs when someone triggers it (no schedule, so no catchup either)."""
    settings = settings or load_settings()
    return {
        "schedule": None,
        "max_active_runs": 1,
        "is_paused_upon_creation": False,
        "default_args": default_args(settings),
        "tags": ["airflow-ml-dags"],
    }
