"""Least-privilege Docker access: the compose file (only docker-proxy holds the socket), the operator factory
(read-only task containers, secrets as private environment) and the docker-proxy image itself, started alone
on the real engine, with real DockerOperator runs through it and the calls it must refuse."""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import secrets
import subprocess
import time
import urllib.parse
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from docker.types import Mount
from conftest import DATA_DIR, REPO, STAGES, TIMINGS

from airflow_ml_dags.operators import (
    TMP_TMPFS,
    TaskContainerOperator,
    _HardenedClient,
    container_name,
    run_key,
    stage_task,
)
from airflow_ml_dags.settings import SettingsError, load_settings

COMPOSE_FILE = REPO / "compose" / "docker-compose.yml"
SOCKET = Path("/var/run/docker.sock")
TEST_LABEL = "airflow-ml-dags.test=docker-access"
# The API version docker-py settles on with this engine is whatever it is; the bodies below are built for one.
API = "/v1.41"
# The session's deployment (conftest), and the caller's images; nothing else of the caller's shell.
BASE_ENV = {
    "HOST_DATA_DIR": str(DATA_DIR),
    **{name: os.environ[name] for name in ("IMAGE_PREFIX", "IMAGE_VERSION") if os.environ.get(name)},
}
PREFIX = BASE_ENV.get("IMAGE_PREFIX", "airflow-ml-dags")
# Stands for the session's data volume (the fixture's name) in the parameters below.
VOLUME = "<the data volume>"


# ---- the compose file --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load(COMPOSE_FILE.read_text())


def _volume_sources(service: dict) -> list[tuple[str, bool]]:
    """(source, read-only) of every volume of a service, in the short or the long syntax."""
    out = []
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            parts = volume.split(":")
            out.append((parts[0], len(parts) > 2 and "ro" in parts[2].split(",")))
        else:
            out.append((volume.get("source", ""), bool(volume.get("read_only"))))
    return out


def _networks(service: dict) -> set[str]:
    networks = service.get("networks", [])
    return set(networks if isinstance(networks, list) else networks.keys())


class TestCompose:
    def test_only_the_proxy_holds_the_docker_socket_and_read_only(self, compose):
        holders = {
            name: read_only
            for name, service in compose["services"].items()
            for source, read_only in _volume_sources(service)
            if "docker.sock" in source
        }
        assert holders == {"docker-proxy": True}

    def test_no_airflow_service_has_a_way_to_the_engine_but_the_proxy(self, compose):
        airflow = {name: s for name, s in compose["services"].items() if name.startswith("airflow")}
        assert {"airflow-scheduler", "airflow-apiserver", "airflow-dag-processor", "airflow-triggerer"} <= set(airflow)
        for name, service in airflow.items():
            assert "group_add" not in service, name
            assert not any("docker" in source for source, _ in _volume_sources(service)), name
            assert service["environment"]["DOCKER_URL"] == "tcp://docker-proxy:2375", name

    def test_the_proxy_network_is_internal_and_only_the_scheduler_joins_it(self, compose):
        assert compose["networks"]["docker-api"]["internal"] is True
        members = {name for name, service in compose["services"].items() if "docker-api" in _networks(service)}
        assert members == {"docker-proxy", "airflow-scheduler"}
        proxy = compose["services"]["docker-proxy"]
        assert _networks(proxy) == {"docker-api"}
        assert "ports" not in proxy

    def test_the_proxy_itself_runs_without_privileges(self, compose):
        proxy = compose["services"]["docker-proxy"]
        assert proxy["read_only"] is True
        assert proxy["cap_drop"] == ["ALL"]
        assert proxy["security_opt"] == ["no-new-privileges:true"]
        # Task containers may bind only the data folder, and run only the stage images.
        assert proxy["environment"]["ALLOW_BIND_SOURCE"].startswith("${HOST_DATA_DIR")
        images = proxy["environment"]["ALLOW_IMAGES"].split()
        assert images == [f"${{IMAGE_PREFIX:-airflow-ml-dags}}/{stage}" for stage in STAGES]


# ---- the factory and its settings --------------------------------------------------------------------------


def _offline_client():
    from docker import APIClient

    # A pinned version: docker-py then builds bodies without asking any engine.
    return APIClient(base_url="unix:///nonexistent.sock", version=API.removeprefix("/v"))


class TestFactory:
    def test_task_containers_get_a_read_only_root_a_private_tmp_and_no_privileges(self):
        op = stage_task("generate", "generate", ["--ds", "2026-11-20"], settings=load_settings(BASE_ENV))
        assert type(op) is TaskContainerOperator
        # What the operator's own arguments make, through the client the operator uses.
        host_config = _HardenedClient(_offline_client()).create_host_config(
            mounts=op.mounts, network_mode="ml_net", privileged=op.privileged, cap_add=op.cap_add
        )
        assert host_config["ReadonlyRootfs"] is True
        assert host_config["Tmpfs"] == {"/tmp": TMP_TMPFS}
        assert "noexec" in TMP_TMPFS.split(",")
        assert host_config["CapDrop"] == ["ALL"]
        assert host_config["SecurityOpt"] == ["no-new-privileges"]
        assert "Privileged" not in host_config and "CapAdd" not in host_config
        assert host_config["NetworkMode"] == "ml_net"

    def test_the_hardening_wins_over_the_operators_arguments(self):
        host_config = _HardenedClient(_offline_client()).create_host_config(read_only=False, cap_drop=[])
        assert (host_config["ReadonlyRootfs"], host_config["CapDrop"]) == (True, ["ALL"])

    def test_secrets_reach_the_container_as_private_environment_only(self):
        from airflow.sdk import DAG
        from airflow.serialization.serialized_objects import DagSerialization

        token = f"tok-{secrets.token_hex(8)}"
        settings = load_settings(
            {
                **BASE_ENV,
                "MLFLOW_TRACKING_URI": "http://mlflow:5000",
                "TASK_SECRET_ENV": "MLFLOW_TRACKING_TOKEN",
                "MLFLOW_TRACKING_TOKEN": token,
            }
        )
        assert token not in repr(settings)
        with DAG("secrets_probe", schedule=None) as dag:
            op = stage_task("train", "train", ["--ds", "{{ ds }}"], settings=settings)
        assert op._private_environment == {"MLFLOW_TRACKING_TOKEN": token}
        assert "MLFLOW_TRACKING_TOKEN" not in op.environment
        serialized = json.dumps(DagSerialization.to_dict(dag))
        # The public environment is serialized with the DAG (what the UI renders); the secret is not.
        assert "http://mlflow:5000" in serialized
        assert token not in serialized

    def test_no_secret_names_no_private_environment(self):
        op = stage_task("generate", "generate", [], settings=load_settings(BASE_ENV))
        assert op._private_environment == {}

    @pytest.mark.parametrize(
        ("env", "message"),
        [
            ({"TASK_SECRET_ENV": "MLFLOW_TRACKING_TOKEN"}, "TASK_SECRET_ENV: names MLFLOW_TRACKING_TOKEN, which is"),
            ({"TASK_SECRET_ENV": "A B"}, "TASK_SECRET_ENV: expected variable names separated by commas"),
            ({"TASK_SECRET_ENV": "A,,B", "A": "1", "B": "2"}, "TASK_SECRET_ENV: expected variable names"),
            ({"DOCKER_URL": "docker-proxy:2375"}, "DOCKER_URL: expected a unix://, tcp://"),
            ({"DOCKER_URL": "ftp://engine"}, "DOCKER_URL: expected a unix://, tcp://"),
            ({"DOCKER_HOST": "engine:2375"}, "DOCKER_HOST: expected a unix://, tcp://"),
        ],
    )
    def test_bad_docker_access_settings_name_the_variable(self, env, message):
        with pytest.raises(SettingsError, match=message):
            load_settings({**BASE_ENV, **env})

    @pytest.mark.parametrize("url", ["tcp://docker-proxy:2375", "unix://var/run/docker.sock", "unix:///run/d.sock"])
    def test_docker_urls(self, url):
        assert load_settings({**BASE_ENV, "DOCKER_URL": url}).docker_url == url


# ---- the proxy on the real engine --------------------------------------------------------------------------

PROXY_IMAGE = os.environ.get("DOCKER_PROXY_IMAGE") or (
    f"{os.environ.get('IMAGE_PREFIX') or 'airflow-ml-dags'}/docker-proxy:"
    f"{os.environ.get('IMAGE_VERSION') or (REPO / 'VERSION').read_text().strip()}"
)
# How long HAProxy may take to answer /_ping before the fixture gives up (it takes well under a second).
PROXY_START_LIMIT_SECONDS = 60


def _docker(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True)


class Proxy:
    def __init__(self, container: str, port: int) -> None:
        self.container, self.port = container, port
        self.url = f"tcp://127.0.0.1:{port}"

    def request(
        self, method: str, path: str, body: bytes | str | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict | str]:
        """One HTTP request as sent, with the status and the body (JSON when it is)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            payload = body.encode() if isinstance(body, str) else body
            all_headers = {"Host": "docker", **({"Content-Type": "application/json"} if payload is not None else {})}
            conn.request(method, path, body=payload, headers={**all_headers, **(headers or {})})
            response = conn.getresponse()
            raw = response.read().decode("utf-8", "replace")
        finally:
            conn.close()
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, raw

    def logs(self) -> str:
        done = _docker("logs", self.container)
        return done.stdout + done.stderr


@pytest.fixture(scope="module")
def data_volume(images):
    """A named volume the task user may write, as a deployment's data volume; removed at the end."""
    name = f"aml-dags-test-data-{os.getpid()}-{secrets.token_hex(3)}"
    assert _docker("volume", "create", "--label", TEST_LABEL, name).returncode == 0
    try:
        # A fresh volume's root belongs to root; the task images run as uid 1000.
        done = _docker(
            "run", "--rm", "--pull", "never", "--label", TEST_LABEL, "--user", "0", "--entrypoint", "chown",
            "-v", f"{name}:/data", images["generate"], "1000:1000", "/data",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        yield name
    finally:
        subprocess.run(["docker", "volume", "rm", "-f", name], capture_output=True)


@pytest.fixture(scope="module")
def proxy(settings, data_volume):
    """The docker-proxy image alone, with the socket, as compose runs it; removed at the end, with every
    container the tests made through it. It allows both a bind of the data folder and the data volume."""
    if not _docker("images", "-q", PROXY_IMAGE).stdout.strip():
        pytest.fail(f"docker-proxy image not built: {PROXY_IMAGE} (run `make build-docker-proxy`)")
    if not SOCKET.is_socket():
        pytest.fail(f"{SOCKET}: no Docker socket to give the proxy")
    container = f"aml-dags-docker-proxy-{os.getpid()}-{secrets.token_hex(3)}"
    started = _docker(
        "run", "-d", "--pull", "never", "--name", container, "--label", TEST_LABEL,
        "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
        "--group-add", str(SOCKET.stat().st_gid), "-v", f"{SOCKET}:/var/run/docker.sock:ro",
        "-p", "127.0.0.1::2375",
        "-e", f"ALLOW_IMAGES={' '.join(f'{settings.image_prefix}/{stage}' for stage in STAGES)}",
        "-e", f"ALLOW_BIND_SOURCE={DATA_DIR}", "-e", f"ALLOW_VOLUME={data_volume}",
        PROXY_IMAGE,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    try:
        port = int(_docker("port", container, "2375/tcp").stdout.splitlines()[0].rsplit(":", 1)[1])
        server = Proxy(container, port)
        _wait_ready(server)
        yield server
    finally:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True)
        leftovers = _docker("ps", "-aq", "--filter", f"label={TEST_LABEL}").stdout.split()
        if leftovers:
            subprocess.run(["docker", "rm", "-f", *leftovers], capture_output=True)


def _wait_ready(server: Proxy) -> None:
    deadline = time.monotonic() + PROXY_START_LIMIT_SECONDS
    while True:
        try:
            if server.request("GET", "/_ping")[0] == 200:
                return
        except OSError:
            pass  # not listening yet; the checks below decide when to give up
        if _docker("inspect", "-f", "{{.State.Running}}", server.container).stdout.strip() != "true":
            pytest.fail(f"docker-proxy stopped before answering /_ping:\n{server.logs()}")
        if time.monotonic() > deadline:
            pytest.fail(f"docker-proxy did not answer /_ping in {PROXY_START_LIMIT_SECONDS} s:\n{server.logs()}")
        time.sleep(0.2)


def _proxied(proxy: Proxy, **env: str):
    return load_settings({**BASE_ENV, "DOCKER_URL": proxy.url, **env})


def _context(task_id: str, try_number: int = 1) -> dict:
    """What execute() reads of a task's context: its task instance (a fresh run, so a fresh container name)."""
    ti = SimpleNamespace(
        dag_id="docker_access", task_id=task_id, run_id=f"manual__{secrets.token_hex(6)}", map_index=-1,
        try_number=try_number,
    )  # fmt: skip
    return {"ti": ti}


def _task_name() -> str:
    return container_name(f"docker_access/probe/manual__{secrets.token_hex(6)}")


def _create_path() -> str:
    """A creation as the operator asks for it, named after a fresh task: only a body can be what is refused."""
    return f"{API}/containers/create?name={_task_name()}"


def _operator_body(image: str, **host_config) -> dict:
    """The creation body DockerOperator sends for a factory task (docker-py builds it, as in the operator)."""
    client = _offline_client()
    op = stage_task("generate", "generate", ["--ds", "2026-11-20"], settings=load_settings(BASE_ENV))
    host = _HardenedClient(client).create_host_config(mounts=op.mounts, network_mode="bridge", **host_config)
    return dict(
        client.create_container_config(
            image=image,
            command=op.command,
            environment=op.environment,
            host_config=host,
            user="1000",
            tty=True,
            labels={TEST_LABEL.split("=")[0]: TEST_LABEL.split("=")[1]},
        )
    )


def _with_volume(value, volume: str):
    if not isinstance(value, str):
        return value
    return value.replace(VOLUME, volume).replace(VOLUME.upper(), volume.upper())


def _refused(status: int, body) -> bool:
    return status == 403 and isinstance(body, dict) and body.get("message", "").startswith("docker-proxy: refused")


@pytest.mark.docker
@pytest.mark.usefixtures("images")
class TestProxy:
    def test_it_will_not_start_without_its_settings(self):
        done = _docker("run", "--rm", "--pull", "never", "--label", TEST_LABEL, PROXY_IMAGE)
        assert done.returncode == 2
        assert done.stderr.strip().splitlines() == [
            "docker-proxy: ALLOW_IMAGES is not set (the task images' repositories, e.g. airflow-ml-dags/generate)"
        ]

    @pytest.mark.parametrize(
        ("env", "message"),
        [
            ("ALLOW_VOLUME=/srv/data", "ALLOW_VOLUME: expected a Docker volume name of letters, digits and _ . -"),
            ("ALLOW_VOLUME=-data", "ALLOW_VOLUME: expected a Docker volume name of letters, digits and _ . -"),
            ("ALLOW_BIND_SOURCE=data", "ALLOW_BIND_SOURCE: expected an absolute path"),
        ],
    )
    def test_it_will_not_start_with_a_malformed_mount_source(self, env, message):
        done = _docker(
            "run", "--rm", "--pull", "never", "--label", TEST_LABEL, "-e", f"ALLOW_IMAGES={PREFIX}/generate",
            "-e", env, PROXY_IMAGE,
        )  # fmt: skip
        assert done.returncode == 2
        assert done.stderr.strip().startswith(f"docker-proxy: {message}"), done.stderr

    def test_dockeroperator_runs_a_stage_through_it(self, proxy):
        ds = "2031-01-15"
        op = stage_task("generate", "generate", ["--ds", ds, "--rows", "60"], settings=_proxied(proxy))
        before = len(proxy.logs())
        started = time.perf_counter()
        result = json.loads(op.execute(_context("generate")))
        TIMINGS["generate through docker-proxy"] = time.perf_counter() - started
        assert result["status"] == "ok" and result["rows"] == 60
        assert (DATA_DIR / "raw" / ds / "data.csv").is_file()
        # Every call the operator made went through to the engine (the proxy logs each one).
        log = proxy.logs()[before:]
        for call in ("GET /version", "/_ping", "/images/json", "POST /v1.", "/containers/create?name=aml-task-",
                     "/attach?", "/start"):  # fmt: skip
            assert call in log, call
        # The removal of an earlier try's container, by name: there was none (404).
        assert re.search(r" 404 .*\"DELETE /v1\.\d+/containers/aml-task-[0-9a-f]{32}\?", log), log
        assert " 403 " not in log

    def test_task_containers_are_read_only_with_a_private_tmp(self, proxy):
        script = (
            "touch /probe 2>/dev/null && echo rootfs=rw || echo rootfs=ro; "
            "touch /tmp/probe && echo tmp=rw; "
            "grep ' /tmp ' /proc/mounts; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; id -u"
        )
        op = stage_task(
            "probe", "generate", [], settings=_proxied(proxy), uses_data=False, entrypoint=["sh", "-c", script],
            xcom_all=True,
        )  # fmt: skip
        lines = [line.strip() for line in op.execute(_context("probe"))]
        assert lines[:2] == ["rootfs=ro", "tmp=rw"]
        mount = lines[2].split()
        assert mount[1:3] == ["/tmp", "tmpfs"]
        assert {"rw", "noexec", "nosuid", "nodev"} <= set(mount[3].split(","))
        assert [line.split() for line in lines[3:5]] == [["CapEff:", "0000000000000000"], ["NoNewPrivs:", "1"]]
        assert lines[5] == "1000"

    @pytest.mark.parametrize("path", ["/_ping", "/version", f"{API}/_ping", f"{API}/version"])
    def test_it_answers_what_docker_py_asks_first(self, proxy, path):
        assert proxy.request("GET", path)[0] == 200

    def test_it_lists_only_to_find_an_image(self, proxy, images):
        filters = urllib.parse.quote(json.dumps({"reference": [images["generate"]]}))
        status, body = proxy.request("GET", f"{API}/images/json?filters={filters}")
        assert status == 200 and len(body) == 1

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", f"{API}/containers/json"),
            ("GET", f"{API}/info"),
            ("GET", f"{API}/events"),
            ("POST", f"{API}/build"),
            ("POST", f"{API}/images/create?fromImage=debian&tag=bookworm-slim"),
            ("DELETE", f"{API}/images/debian:bookworm-slim"),
            ("POST", f"{API}/volumes/create"),
            ("GET", f"{API}/volumes"),
            ("POST", f"{API}/networks/create"),
            ("GET", f"{API}/swarm"),
            ("GET", f"{API}/plugins"),
            ("GET", f"{API}/secrets"),
            ("POST", f"{API}/commit"),
            ("POST", f"{API}/containers/prune"),
            # Containers by id only: names would let a client reach the stack's own services.
            ("POST", f"{API}/containers/airflow-ml-dags-postgres-1/stop"),
            ("DELETE", f"{API}/containers/airflow-ml-dags-postgres-1?force=True"),
            ("DELETE", f"{API}/containers/othername"),
            # A task container's name serves its removal only.
            ("POST", f"{API}/containers/aml-task-{'a' * 32}/stop"),
            ("GET", f"{API}/containers/aml-task-{'a' * 32}/json"),
            ("DELETE", f"{API}/containers/aml-task-{'a' * 31}"),
            # An API version that still took a host config on start.
            ("POST", f"/v1.23/containers/{'a' * 64}/start"),
        ],
    )
    def test_it_refuses_the_rest_of_the_api(self, proxy, method, path):
        body = "{}" if method == "POST" else None
        status, answer = proxy.request(method, path, body)
        assert _refused(status, answer), (status, answer)

    @pytest.fixture
    def created(self, proxy, images):
        """A container made through the proxy from the operator's own body: proof that the body passes, and
        an id for the calls that need one."""
        status, body = proxy.request("POST", _create_path(), json.dumps(_operator_body(images["generate"])))
        assert status == 201, body
        yield body["Id"]
        assert proxy.request("DELETE", f"{API}/containers/{body['Id']}")[0] == 204

    def test_exec_archive_and_a_body_on_start_are_refused(self, proxy, created):
        exec_body = json.dumps({"Cmd": ["sh"], "AttachStdout": True})
        assert _refused(*proxy.request("POST", f"{API}/containers/{created}/exec", exec_body))
        assert _refused(*proxy.request("PUT", f"{API}/containers/{created}/archive?path=/tmp", b"x"))
        assert _refused(*proxy.request("GET", f"{API}/containers/{created}/export"))
        assert _refused(*proxy.request("POST", f"{API}/containers/{created}/start", json.dumps({"Privileged": True})))
        # The same container, inspected by the id the operator knows: allowed.
        status, body = proxy.request("GET", f"{API}/containers/{created}/json")
        assert status == 200 and body["HostConfig"]["ReadonlyRootfs"] is True

    @pytest.mark.parametrize(
        ("case", "where", "change"),
        [
            ("privileged", "host", {"Privileged": True}),
            ("privileged, another key case", "host", {"privileged": True}),
            ("privileged, outside HostConfig", "top", {"Privileged": True}),
            ("a capability added", "host", {"CapAdd": ["SYS_ADMIN"]}),
            ("the host's root bound", "host", {"Binds": ["/:/host"]}),
            ("a mount of /", "mount", {"Source": "/"}),
            ("a mount above the data folder", "mount", {"Source": f"{DATA_DIR}/.."}),
            ("a mount of another folder", "mount", {"Source": f"{DATA_DIR}-x"}),
            ("the socket mounted", "mount", {"Source": str(SOCKET)}),
            ("another volume", "mount", {"Type": "volume", "Source": "aml-other-data"}),
            ("a volume of a name that differs in case", "mount", {"Type": "volume", "Source": VOLUME.upper()}),
            (
                # The data volume itself: only the driver's options can be what is refused.
                "the data volume bound by its driver",
                "mount",
                {
                    "Type": "volume",
                    "Source": VOLUME,
                    "VolumeOptions": {"DriverConfig": {"Name": "local", "Options": {"o": "bind", "device": "/"}}},
                },
            ),
            ("another container's volumes", "host", {"VolumesFrom": ["airflow-ml-dags-postgres-1"]}),
            ("a device", "host", {"Devices": [{"PathOnHost": "/dev/mem", "PathInContainer": "/dev/mem"}]}),
            ("the host's network", "host", {"NetworkMode": "host"}),
            ("the host's pids", "host", {"PidMode": "host"}),
            ("another container's network", "host", {"NetworkMode": "container:airflow-ml-dags-postgres-1"}),
            ("a published port", "host", {"PortBindings": {"80/tcp": [{"HostPort": "8081"}]}}),
            ("unmasked /proc", "host", {"MaskedPaths": []}),
            ("seccomp off", "host", {"SecurityOpt": ["no-new-privileges", "seccomp=unconfined"]}),
            ("root", "top", {"User": "0"}),
            ("root by name", "top", {"User": "root:root"}),
            ("an image of another project", "top", {"Image": "node:22-bookworm-slim"}),
            ("an image of the stack that runs no task", "top", {"Image": f"{PREFIX}/mlflow:1"}),
            ("a writable root", "host", {"ReadonlyRootfs": False}),
            ("capabilities kept", "host", {"CapDrop": None}),
            ("no no-new-privileges", "host", {"SecurityOpt": None}),
        ],
    )
    def test_a_creation_that_would_reach_the_host_is_refused(
        self, proxy, images, data_volume, created, case, where, change
    ):
        # `created` made a container from the unchanged body: only the change can be what is refused.
        body = _operator_body(images["generate"])
        target = {"top": body, "host": body["HostConfig"], "mount": body["HostConfig"]["Mounts"][0]}[where]
        for key, value in change.items():
            if value is None:
                del target[key]
            else:
                target[key] = _with_volume(value, data_volume)
        status, answer = proxy.request("POST", _create_path(), json.dumps(body))
        assert _refused(status, answer), (case, status, answer)

    @pytest.mark.parametrize(
        ("case", "old", "new"),
        [
            # JSON would hide these keys from the checks; the engine's decoder reads them all the same.
            ("an escaped key", '"HostConfig": {', '"HostConfig": {"\\u0050rivileged": true, '),
            # Go's decoder takes the long s for an s: the engine reads Binds.
            ("a non-ASCII key", '"HostConfig": {', '"HostConfig": {"Bind\u017f": ["/:/host"], '),
            ("a key given twice", '"ReadonlyRootfs": true', '"ReadonlyRootfs": true, "ReadonlyRootfs": false'),
        ],
    )
    def test_json_tricks_are_refused(self, proxy, images, created, case, old, new):
        text = json.dumps(_operator_body(images["generate"]), ensure_ascii=False)
        changed = text.replace(old, new, 1)
        assert changed != text
        status, answer = proxy.request("POST", _create_path(), changed.encode())
        assert _refused(status, answer), (case, status, answer)

    def test_a_creation_body_must_come_whole_and_plain(self, proxy, images, created):
        body = _operator_body(images["generate"])
        text = json.dumps(body)
        # Chunked: the proxy could not know it read the whole body.
        conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=60)
        try:
            conn.request(
                "POST", _create_path(), body=iter([text.encode()]),
                headers={"Content-Type": "application/json"}, encode_chunked=True,
            )  # fmt: skip
            response = conn.getresponse()
            assert _refused(response.status, json.loads(response.read()))
        finally:
            conn.close()
        assert _refused(*proxy.request("POST", _create_path(), text, {"Content-Encoding": "identity"}))
        body["Labels"]["padding"] = "x" * 20_000
        assert _refused(*proxy.request("POST", _create_path(), json.dumps(body)))

    @pytest.mark.parametrize(
        "query",
        [
            "",
            "?name=othername",
            f"?name=aml-task-{'a' * 31}",
            f"?name=aml-task-{'A' * 32}",
            f"?name=aml-task-{'a' * 32}&platform=linux/amd64",
            f"?platform=linux/amd64&name=aml-task-{'a' * 32}",
        ],
    )
    def test_a_creation_must_name_a_task_container_and_take_nothing_else(self, proxy, images, created, query):
        body = json.dumps(_operator_body(images["generate"]))
        assert _refused(*proxy.request("POST", f"{API}/containers/create{query}", body)), query

    def test_a_task_containers_name_passes_for_its_removal(self, proxy):
        # Through to the engine, which has no such container.
        status, body = proxy.request("DELETE", f"{API}/containers/{_task_name()}?v=False&link=False&force=True")
        assert status == 404 and "No such container" in body["message"], (status, body)

    @pytest.mark.parametrize("left", ["running", "exited", None])
    def test_a_try_removes_the_container_an_earlier_try_left(self, proxy, images, left, caplog, capfd):
        context = _context("probe", try_number=2)
        name = container_name(run_key(context["ti"]))
        leftover = None
        if left:
            # What a worker killed with SIGKILL leaves: its try's container, still running or stopped.
            command = ["sleep", "600"] if left == "running" else ["true"]
            done = _docker(
                "run", "-d", "--pull", "never", "--name", name, "--label", TEST_LABEL, "--entrypoint", command[0],
                images["generate"], *command[1:],
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            leftover = done.stdout.strip()
            if left == "exited":
                _docker("wait", leftover)
            assert _docker("inspect", "-f", "{{.State.Status}}", leftover).stdout.strip() == left
        script = 'printf "%s %s\\n" "$AML_RUN_KEY" "$AML_TRY_NUMBER"'
        op = stage_task(
            "probe", "generate", [], settings=_proxied(proxy), uses_data=False, entrypoint=["sh", "-c", script]
        )
        with caplog.at_level(logging.INFO):
            out = op.execute(context)
        assert out.strip() == f"docker_access/probe/{context['ti'].run_id} 2"
        logged = caplog.text + "".join(capfd.readouterr())
        assert (f"removed the container of an earlier try {name}" in logged) is bool(left)
        if leftover:
            assert _docker("inspect", leftover).returncode != 0
        # And the try's own container went on success.
        assert _docker("inspect", name).returncode != 0

    def test_a_stage_runs_on_the_data_volume_and_writes_there(self, proxy, images, data_volume):
        ds = "2031-01-16"
        settings = _proxied(proxy, DATA_VOLUME=data_volume)
        op = stage_task("generate", "generate", ["--ds", ds, "--rows", "30"], settings=settings)
        assert op.mounts == [Mount(target="/data", source=data_volume, type="volume")]
        result = json.loads(op.execute(_context("generate")))
        assert result["status"] == "ok" and result["rows"] == 30
        assert not (DATA_DIR / "raw" / ds).exists()
        listed = _docker(
            "run", "--rm", "--pull", "never", "--label", TEST_LABEL, "-v", f"{data_volume}:/data:ro",
            "--entrypoint", "ls", images["generate"], f"/data/raw/{ds}",
        )  # fmt: skip
        assert {"data.csv", "target.csv"} <= set(listed.stdout.split()), listed

    @pytest.mark.parametrize(
        ("case", "mount"),
        [
            ("the data volume's name as a bind", {"Type": "bind", "Source": VOLUME}),
            ("the data folder as a volume", {"Type": "volume", "Source": str(DATA_DIR)}),
        ],
    )
    def test_the_engine_refuses_the_two_allowed_sources_swapped(self, proxy, images, data_volume, case, mount):
        """The proxy lets a mount's Source be either allowed one whatever its Type; the engine refuses a
        relative bind source and a volume name with '/' itself."""
        body = _operator_body(images["generate"])
        body["HostConfig"]["Mounts"][0].update({k: _with_volume(v, data_volume) for k, v in mount.items()})
        status, answer = proxy.request("POST", _create_path(), json.dumps(body))
        assert status == 400 and not answer["message"].startswith("docker-proxy"), (case, status, answer)
