"""The model sensor's poke on its own: model folders on a real folder, registry references against a real
MLflow server (the session's, started by conftest), and the two ways an address can fail to answer."""

from __future__ import annotations

import json
import secrets
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from airflow.sdk import PokeReturnValue
from airflow.sdk.exceptions import AirflowFailException

from airflow_ml_dags.sensors import ModelSensor, wait_for_model
from airflow_ml_dags.settings import load_settings

MANIFEST = {
    "ds": "2026-11-20",
    "family": "mlp",
    "files": ["model.json", "weights.bin", "preprocess.json", "manifest.json"],
}
METRICS = {"ds": "2026-11-20", "accuracy": 0.81, "roc_auc": 0.88, "registry": None}


def _done(result) -> dict:
    assert isinstance(result, PokeReturnValue), result
    assert result.is_done is True
    return result.xcom_value


class TestModelFolder:
    @pytest.fixture
    def data(self, tmp_path, monkeypatch):
        monkeypatch.setenv("AIRFLOW_CONN_FS_TEST", json.dumps({"conn_type": "fs", "extra": {"path": str(tmp_path)}}))
        return tmp_path

    @staticmethod
    def sensor(ref: str) -> ModelSensor:
        return ModelSensor(task_id="m", model_ref=ref, mlflow_uri=None, fs_conn_id="fs_test")

    @staticmethod
    def write_model(folder, manifest=MANIFEST, metrics=METRICS):
        folder.mkdir(parents=True, exist_ok=True)
        for name in manifest["files"]:
            (folder / name).write_text("{}")
        (folder / "manifest.json").write_text(json.dumps(manifest))
        if metrics is not None:
            (folder / "metrics.json").write_text(json.dumps(metrics))

    def test_waits_for_the_folder_then_for_validate_then_is_done(self, data, capfd):
        sensor = self.sensor("models/2026-11-20")
        assert sensor.poke({}) is False
        assert "for manifest.json, metrics.json" in capfd.readouterr().out
        self.write_model(data / "models/2026-11-20", metrics=None)
        # Trained but not validated yet: not a model predict should use.
        assert sensor.poke({}) is False
        assert "for metrics.json" in capfd.readouterr().out
        (data / "models/2026-11-20/metrics.json").write_text(json.dumps(METRICS))
        assert _done(sensor.poke({})) == {
            "model_ref": "models/2026-11-20",
            "resolved": "/data/models/2026-11-20",
            "family": "mlp",
        }

    def test_the_ref_is_normalized_like_the_command_line(self, data):
        self.write_model(data / "models/2026-11-20")
        assert _done(self.sensor(" models/2026-11-20/ ").poke({}))["model_ref"] == "models/2026-11-20"

    def test_a_file_listed_in_the_manifest_but_missing_fails_at_once(self, data):
        self.write_model(data / "models/m")
        (data / "models/m/weights.bin").unlink()
        with pytest.raises(AirflowFailException, match="files listed in manifest.json are missing: weights.bin"):
            self.sensor("models/m").poke({})

    @pytest.mark.parametrize(
        ("file", "content", "message"),
        [
            ("metrics.json", "{not json", r"metrics.json: not valid JSON"),
            ("metrics.json", "[1, 2]", r"metrics.json: expected a JSON object, got list"),
            ("metrics.json", '{"accuracy": "high"}', r"metrics.json: expected validate's metrics"),
            ("manifest.json", '{"files": []}', r"manifest.json: expected a model manifest"),
        ],
    )
    def test_an_unreadable_model_file_fails_at_once(self, data, file, content, message):
        self.write_model(data / "models/m")
        (data / "models/m" / file).write_text(content)
        with pytest.raises(AirflowFailException, match=message):
            self.sensor("models/m").poke({})

    @pytest.mark.parametrize("ref", ["/srv/ml/data/models/m", "../models/m", "", "  ", "model:/m@production"])
    def test_a_ref_no_container_could_load_fails_at_once(self, data, ref):
        with pytest.raises(AirflowFailException, match="model_ref"):
            self.sensor(ref).poke({})

    def test_connection_without_a_path_fails_at_once(self, monkeypatch):
        monkeypatch.setenv("AIRFLOW_CONN_FS_EMPTY", json.dumps({"conn_type": "fs"}))
        sensor = ModelSensor(task_id="m", model_ref="models/m", mlflow_uri=None, fs_conn_id="fs_empty")
        with pytest.raises(AirflowFailException, match="'fs_empty': expected an absolute 'path' extra"):
            sensor.poke({})


def test_helper_reschedules_with_the_settings_and_asks_mlflow_where_airflow_reaches_it():
    env = {
        "HOST_DATA_DIR": "/srv/ml/data",
        "IMAGE_VERSION": "1.2.3",
        "SENSOR_POKE_INTERVAL_SECONDS": "7",
        "SENSOR_TIMEOUT_SECONDS": "70",
        "MLFLOW_TRACKING_URI": "http://mlflow:5000",
        "AIRFLOW_MLFLOW_URI": "http://127.0.0.1:5001",
    }
    sensor = wait_for_model("w", settings=load_settings(env))
    assert sensor.mode == "reschedule"
    assert (sensor.poke_interval, sensor.timeout) == (7, 70)
    assert sensor.mlflow_uri == "http://127.0.0.1:5001"
    assert sensor.model_ref == "{{ var.value.get('model_ref', default_model_ref) }}"


def test_a_registry_ref_without_any_mlflow_address_fails_at_once():
    sensor = ModelSensor(task_id="m", model_ref="models:/m@production", mlflow_uri=None)
    with pytest.raises(AirflowFailException, match="neither AIRFLOW_MLFLOW_URI nor MLFLOW_TRACKING_URI is set"):
        sensor.poke({})


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_server_means_keep_waiting(capfd):
    sensor = ModelSensor(task_id="m", model_ref="models:/m@production", mlflow_uri=f"http://127.0.0.1:{_closed_port()}")
    assert sensor.poke({}) is False
    assert "MLflow did not answer, will ask again" in capfd.readouterr().out


@pytest.mark.parametrize("ref", ["models:/m", "models:/m@", "models:/m/0", "models:/a/b/1", "models:/m@pro duction"])
def test_a_malformed_registry_ref_fails_at_once_without_asking(ref):
    # A closed port: had the sensor asked, it would have reported "did not answer" and waited.
    sensor = ModelSensor(task_id="m", model_ref=ref, mlflow_uri=f"http://127.0.0.1:{_closed_port()}")
    with pytest.raises(AirflowFailException, match="malformed registry reference"):
        sensor.poke({})


class _Canned(BaseHTTPRequestHandler):
    """Answers every GET with the class's status and body: the answers a healthy test server never gives."""

    status = 200
    body: dict = {}

    def do_GET(self):  # noqa: N802 (the name http.server calls)
        data = json.dumps(self.body).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def canned():
    """A local HTTP server whose one answer each test sets."""
    handler = type("Handler", (_Canned,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield handler, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_server_error_means_keep_waiting(canned, capfd):
    handler, uri = canned
    handler.status, handler.body = 503, {"error_code": "TEMPORARILY_UNAVAILABLE", "message": "restarting"}
    assert ModelSensor(task_id="m", model_ref="models:/m/1", mlflow_uri=uri).poke({}) is False
    assert "HTTP 503 (TEMPORARILY_UNAVAILABLE: restarting)" in capfd.readouterr().out


def test_a_version_still_registering_means_keep_waiting(canned, capfd):
    handler, uri = canned
    handler.body = {"model_version": {"name": "m", "version": "1", "status": "PENDING_REGISTRATION"}}
    assert ModelSensor(task_id="m", model_ref="models:/m/1", mlflow_uri=uri).poke({}) is False
    assert "version 1 is PENDING_REGISTRATION" in capfd.readouterr().out


def test_a_version_that_failed_registration_fails_at_once(canned):
    handler, uri = canned
    handler.body = {"model_version": {"name": "m", "version": "1", "status": "FAILED_REGISTRATION"}}
    with pytest.raises(AirflowFailException, match="version 1 failed registration"):
        ModelSensor(task_id="m", model_ref="models:/m/1", mlflow_uri=uri).poke({})


def test_a_refusal_fails_at_once(canned):
    handler, uri = canned
    handler.status, handler.body = 403, {"error_code": "PERMISSION_DENIED", "message": "no"}
    with pytest.raises(AirflowFailException, match="HTTP 403 .PERMISSION_DENIED: no."):
        ModelSensor(task_id="m", model_ref="models:/m@production", mlflow_uri=uri).poke({})


@pytest.mark.docker
class TestRegistry:
    """Against the real MLflow server; each test has its own registered model name."""

    @pytest.fixture
    def name(self):
        return f"sensor-test-{secrets.token_hex(4)}"

    @staticmethod
    def sensor(ref: str, uri: str) -> ModelSensor:
        return ModelSensor(task_id="m", model_ref=ref, mlflow_uri=uri)

    def test_alias_waits_for_the_model_then_for_the_alias(self, mlflow_server, name, capfd):
        sensor = self.sensor(f"models:/{name}@production", mlflow_server.host_uri)
        assert sensor.poke({}) is False  # no such registered model
        version = mlflow_server.register_version(name)
        assert sensor.poke({}) is False  # a version, but no alias on it
        assert f"Waiting for models:/{name}@production" in capfd.readouterr().out
        mlflow_server.set_alias(name, "production", version)
        found = _done(sensor.poke({}))
        assert found["model_ref"] == f"models:/{name}@production"
        assert found["version"] == version == "1"
        # Resolved once: predict scores this version even if the alias moves before it runs.
        assert found["resolved"] == f"models:/{name}/1"
        assert found["run_id"]

    def test_another_alias_is_not_production(self, mlflow_server, name):
        version = mlflow_server.register_version(name)
        mlflow_server.set_alias(name, "challenger", version)
        assert self.sensor(f"models:/{name}@production", mlflow_server.host_uri).poke({}) is False
        assert _done(self.sensor(f"models:/{name}@challenger", mlflow_server.host_uri).poke({}))["version"] == version

    def test_version_waits_until_it_exists(self, mlflow_server, name):
        assert self.sensor(f"models:/{name}/1", mlflow_server.host_uri).poke({}) is False
        mlflow_server.register_version(name)
        assert _done(self.sensor(f"models:/{name}/1", mlflow_server.host_uri).poke({}))["version"] == "1"
        assert self.sensor(f"models:/{name}/2", mlflow_server.host_uri).poke({}) is False

    def test_an_address_that_is_not_mlflow_fails_at_once(self, mlflow_server):
        # The server answers, but this path is no MLflow API: a wrong AIRFLOW_MLFLOW_URI will not mend by waiting.
        with pytest.raises(AirflowFailException, match="HTTP 404"):
            self.sensor("models:/m@production", f"{mlflow_server.host_uri}/not-mlflow").poke({})
