"""The one place that builds a DockerOperator: every computing task of every DAG comes from here."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from airflow.providers.docker.operators.docker import DockerOperator
from docker.types import Mount

from airflow_ml_dags import contract
from airflow_ml_dags.settings import CONTAINER_DATA_DIR, Settings, load_settings

# What every task container gets on top of the operator's own host config: a read-only root file system, no
# capabilities at all (the images need none: they run as uid 1000 and write only to /data and /tmp) and no
# privilege gain through set-uid files. The socket proxy refuses a container creation without them.
TMP_TMPFS = "rw,nosuid,nodev,noexec,size=512m"
TASK_HOST_CONFIG: dict[str, Any] = {
    "read_only": True,
    # The one writable place besides /data: predict and validate download registry models under
    # os.tmpdir(). Nothing there is executed, and it goes away with the container.
    "tmpfs": {"/tmp": TMP_TMPFS},
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges"],
}


class _HardenedClient:
    """The operator's docker-py client, with TASK_HOST_CONFIG added to every host config it builds."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def create_host_config(self, *args: Any, **kwargs: Any) -> Any:
        # A copy each time: docker-py keeps the lists it is given inside the host config.
        return self._client.create_host_config(*args, **{**kwargs, **copy.deepcopy(TASK_HOST_CONFIG)})

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class TaskContainerOperator(DockerOperator):
    """DockerOperator whose containers get TASK_HOST_CONFIG.

    The provider (4.6.1) has no parameter for a read-only root, dropped capabilities or security options, and
    builds the host config from its own arguments in the middle of ``_run_image_with_mounts``. The client it
    builds it with (``cli``) is the one seam that needs no copy of that method.
    """

    @property
    def cli(self) -> Any:
        return _HardenedClient(self.hook.api_client)


def data_mount(settings: Settings) -> Mount:
    return Mount(target=CONTAINER_DATA_DIR, source=settings.host_data_dir, type="bind")


def stage_task(
    task_id: str,
    stage: str,
    args: Sequence[str],
    *,
    settings: Settings | None = None,
    uses_data: bool | None = None,
    **kwargs: Any,
) -> TaskContainerOperator:
    """A task that runs one of the contract's stages: its image, its subcommand, then ``args`` (Jinja-templated),
    on the data folder mounted at /data.

    ``--data-dir`` is always given, so the mount target and the CLI cannot drift apart. A stage that reads and
    writes no file (``promote`` only talks to MLflow) gets neither the mount nor the option, which its CLI
    would refuse; ``uses_data`` overrides what the contract says (a probe that runs something else).

    The container's root file system is read-only, with a private /tmp (``TASK_HOST_CONFIG``).
    """
    settings = settings or load_settings()
    spec = contract.STAGES[stage]
    image = settings.image(spec["image"])
    if uses_data is None:
        uses_data = bool(spec["reads"] or spec["writes"])
    command = [*([spec["command"]] if spec["command"] else []), *args]
    return TaskContainerOperator(
        task_id=task_id,
        image=image,
        command=[*command, "--data-dir", CONTAINER_DATA_DIR] if uses_data else command,
        docker_url=settings.docker_url,
        network_mode=settings.docker_network,
        mounts=[data_mount(settings)] if uses_data else [],
        # The operator's own temp mount is a host folder too: it breaks when Airflow itself runs in a
        # container, and the images keep all their files under /data anyway.
        mount_tmp_dir=False,
        # A failed container stays behind for `docker logs`; successful ones would only pile up.
        auto_remove="success",
        # Where MLflow is for the containers (their network's name for it) and what to log and register; the
        # image's own name, which it records beside the model (the image knows only its version).
        environment={**settings.task_environment(), "AML_IMAGE": image},
        # Credentials only this way: private_environment is not templated, not shown in the UI and not
        # serialized with the DAG.
        private_environment=settings.task_private_environment(),
        user=settings.task_user,
        # The images print their JSON result as the last stdout line, and the operator pushes the last line
        # it reads. Docker copies stdout and stderr on separate pipes, so a log line written before the
        # result can still arrive after it; one terminal carries both streams in the order they were written.
        tty=True,
        do_xcom_push=True,
        labels={"airflow-ml-dags.stage": stage},
        **kwargs,
    )
