"""The data layout of docs/contracts.md, as the DAGs need it (the images spell it in their shared library)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import PurePosixPath

from airflow_ml_dags.settings import CONTAINER_DATA_DIR


def last_days(ds: str, days: int) -> list[str]:
    """The ``days`` run dates ending at ``ds``, oldest first: the raw folders that ``prepare --days`` reads."""
    if days < 1:
        raise ValueError(f"days: expected at least 1, got {days}")
    end = date.fromisoformat(ds)
    return [(end - timedelta(days=back)).isoformat() for back in range(days - 1, -1, -1)]


def raw_files(ds: str, days: int, names: tuple[str, ...]) -> list[str]:
    """Paths relative to the data folder of ``raw/{day}/{name}`` for each of the last ``days`` days."""
    return [f"raw/{day}/{name}" for day in last_days(ds, days) for name in names]


def container_path(relative: str) -> str:
    """Maps a path relative to the data folder to where a task container sees it.

    Absolute paths and paths leaving the data folder are refused: they would name the host's or the
    Airflow process's file system, which a task container cannot see.
    """
    path = PurePosixPath(str(relative).strip())
    if not path.parts or path.is_absolute() or ".." in path.parts:
        raise ValueError(f"{relative!r}: expected a path relative to the data folder, such as models/2026-11-20")
    return str(PurePosixPath(CONTAINER_DATA_DIR) / path)
