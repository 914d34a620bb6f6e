"""The data layout of the contract, as the DAGs need it: the raw files of a window, and where a task container
sees a path of the data folder."""

from __future__ import annotations

from pathlib import PurePosixPath

from airflow_ml_dags.contract import layout_path, window
from airflow_ml_dags.settings import CONTAINER_DATA_DIR


def raw_files(ds: str, days: int, keys: tuple[str, ...]) -> list[str]:
    """Paths relative to the data folder of the layout's ``keys`` (e.g. ``raw_data``) for each day of the window."""
    return [layout_path(key, day) for day in window(ds, days) for key in keys]


def container_path(relative: str) -> str:
    """Maps a path relative to the data folder to where a task container sees it.

    Absolute paths and paths leaving the data folder are refused: they would name the host's or the
    Airflow process's file system, which a task container cannot see.
    """
    path = PurePosixPath(str(relative).strip())
    if not path.parts or path.is_absolute() or ".." in path.parts:
        raise ValueError(f"{relative!r}: expected a path relative to the data folder, such as models/2026-11-20")
    return str(PurePosixPath(CONTAINER_DATA_DIR) / path)
