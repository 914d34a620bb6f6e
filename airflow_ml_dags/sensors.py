"""Sensors that wait for exactly the raw files the next task reads.

FileSensor watches one path (or glob), but ``prepare --days N`` reads two files for each of N days, with N a
run-time Param: so this sensor renders the list per run and is satisfied only when every file is there. It
looks through the ``fs_default`` connection, whose ``path`` is the data folder as the Airflow process sees it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from airflow.providers.standard.hooks.filesystem import FSHook
from airflow.sdk import BaseSensorOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_ml_dags.paths import raw_files
from airflow_ml_dags.settings import Settings, load_settings

if TYPE_CHECKING:
    from airflow.sdk import Context


class RawDataSensor(BaseSensorOperator):
    """Waits until ``raw/{day}/{name}`` exists for every name in ``names`` and each of the last ``days`` days."""

    template_fields: Sequence[str] = ("days", "fs_conn_id")
    ui_color = "#91818a"

    def __init__(
        self,
        *,
        names: Sequence[str],
        days: int | str = 1,
        fs_conn_id: str = "fs_default",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if not names:
            raise ValueError("names: expected at least one file name")
        self.names = tuple(names)
        self.days = days
        self.fs_conn_id = fs_conn_id

    def expected_files(self, ds: str) -> list[str]:
        try:
            days = int(self.days)
        except (TypeError, ValueError):
            raise AirflowFailException(f"days: expected an integer, got {self.days!r}") from None
        return raw_files(ds, days, self.names)

    def poke(self, context: Context) -> bool:
        base = FSHook(self.fs_conn_id).get_path()
        if not base or not os.path.isabs(base):
            # Retrying cannot fix a connection that names no folder: fail at once with what to set.
            raise AirflowFailException(
                f"connection {self.fs_conn_id!r}: expected an absolute 'path' extra (the data folder as "
                f"Airflow sees it), got {base!r}"
            )
        missing = [f for f in self.expected_files(context["ds"]) if not os.path.isfile(os.path.join(base, f))]
        if missing:
            self.log.info("Waiting under %s for %s", base, ", ".join(missing))
            return False
        return True


def wait_for_raw_data(
    task_id: str,
    names: Sequence[str],
    days: int | str = 1,
    *,
    settings: Settings | None = None,
    **kwargs,
) -> RawDataSensor:
    """The sensor in reschedule mode, so a waiting sensor holds no worker slot between pokes."""
    settings = settings or load_settings()
    return RawDataSensor(
        task_id=task_id,
        names=names,
        days=days,
        mode="reschedule",
        poke_interval=settings.sensor_poke_interval,
        timeout=settings.sensor_timeout,
        **kwargs,
    )
