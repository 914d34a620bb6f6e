"""The one place that builds a DockerOperator: every computing task of every DAG comes from here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.providers.docker.operators.docker import DockerOperator
from docker.types import Mount

from airflow_ml_dags.settings import CONTAINER_DATA_DIR, Settings, load_settings


def data_mount(settings: Settings) -> Mount:
    return Mount(target=CONTAINER_DATA_DIR, source=settings.host_data_dir, type="bind")


def stage_task(
    task_id: str,
    stage: str,
    args: Sequence[str],
    *,
    settings: Settings | None = None,
    uses_data: bool = True,
    **kwargs: Any,
) -> DockerOperator:
    """A task that runs one stage image with ``args`` (Jinja-templated) on the data folder mounted at /data.

    ``--data-dir`` is always given, so the mount target and the CLI cannot drift apart. A command that
    touches no file (``validate promote`` only talks to MLflow) passes ``uses_data=False``: it gets neither
    the mount nor the option, which its CLI would refuse.
    """
    settings = settings or load_settings()
    return DockerOperator(
        task_id=task_id,
        image=settings.image(stage),
        command=[*args, "--data-dir", CONTAINER_DATA_DIR] if uses_data else list(args),
        docker_url=settings.docker_url,
        network_mode=settings.docker_network,
        mounts=[data_mount(settings)] if uses_data else [],
        # The operator's own temp mount is a host folder too: it breaks when Airflow itself runs in a
        # container, and the images keep all their files under /data anyway.
        mount_tmp_dir=False,
        # A failed container stays behind for `docker logs`; successful ones would only pile up.
        auto_remove="success",
        # Where MLflow is for the containers (their network's name for it) and what to log and register.
        environment=settings.task_environment(),
        user=settings.task_user,
        # The images print their JSON result as the last stdout line, and the operator pushes the last line
        # it reads. Docker copies stdout and stderr on separate pipes, so a log line written before the
        # result can still arrive after it; one terminal carries both streams in the order they were written.
        tty=True,
        do_xcom_push=True,
        labels={"airflow-ml-dags.stage": stage},
        **kwargs,
    )
