"""The one place that builds a DockerOperator: every computing task of every DAG comes from here."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from airflow.providers.docker.operators.docker import DockerOperator
from docker.errors import NotFound
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


RUN_KEY_ENV = contract.TASK_IDENTITY["run_key_env"]
TRY_NUMBER_ENV = contract.TASK_IDENTITY["try_number_env"]
CONTAINER_PREFIX = contract.TASK_IDENTITY["container_prefix"]
# 128 bits: no two run keys of a deployment share a name. docker-proxy.cfg allows exactly this form of name.
CONTAINER_DIGEST_HEX = 32


def run_key(ti: Any) -> str:
    """Which task a try belongs to, the same for every try of it: ``dag_id/task_id/run_id[/map_index]``."""
    key = f"{ti.dag_id}/{ti.task_id}/{ti.run_id}"
    return f"{key}/{ti.map_index}" if ti.map_index is not None and ti.map_index >= 0 else key


def container_name(key: str) -> str:
    """The task container's name: a run key may hold characters Docker names may not (``:`` and ``+`` of run ids)."""
    return CONTAINER_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:CONTAINER_DIGEST_HEX]


class TaskContainerOperator(DockerOperator):
    """DockerOperator whose containers get TASK_HOST_CONFIG, know which task try they are, and are named after
    their task, so that a try replaces whatever container an earlier try of the same task left.

    The provider (4.6.1) has no parameter for a read-only root, dropped capabilities or security options, and
    builds the host config from its own arguments in the middle of ``_run_image_with_mounts``. The client it
    builds it with (``cli``) is the one seam that needs no copy of that method.

    A worker killed with SIGKILL runs no ``on_kill`` and no ``finally``: its container runs on, or stays exited.
    The next try of the task has the same container name and removes that container with force before it creates
    its own: the later try owns the task's outputs, so an earlier one must not keep writing them. (Only on the
    same Docker engine: with workers on several hosts, a retry on another host cannot see that container.)
    """

    @property
    def cli(self) -> Any:
        return _HardenedClient(self.hook.api_client)

    def execute(self, context: Mapping[str, Any]) -> Any:
        ti = context["ti"]
        key = run_key(ti)
        # Set per try from the context: try_number changes between tries, and the rendered environment is the try's.
        self.environment = {**self.environment, RUN_KEY_ENV: key, TRY_NUMBER_ENV: str(ti.try_number)}
        self.container_name = container_name(key)
        self._remove_earlier_try()
        return super().execute(context)

    def _remove_earlier_try(self) -> None:
        try:
            self.cli.remove_container(self.container_name, force=True)
        except NotFound:
            return
        self.log.info("removed the container of an earlier try %s", self.container_name)


def data_mount(settings: Settings) -> Mount:
    """The data volume when the deployment names one (workers on several hosts share it), else the host folder."""
    if settings.data_volume:
        return Mount(target=CONTAINER_DATA_DIR, source=settings.data_volume, type="volume")
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
    on the data folder (or the data volume) mounted at /data, on the queue the contract gives the stage.

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
        # "success" keeps no failed container either: the provider (4.6.1) removes it from a finally all the
        # same, without force, which fails on a container still running (a try that timed out) and leaves it
        # running. Force ends it with its try. What a container printed is in the task's log.
        auto_remove="force",
        # Where MLflow is for the containers (their network's name for it) and what to log and register; the
        # image's own name, which it records beside the model (the image knows only its version). The run key
        # and the try number are added per try (TaskContainerOperator.execute).
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
        queue=spec["queue"],
        **kwargs,
    )
