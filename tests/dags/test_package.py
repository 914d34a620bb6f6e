"""The airflow_ml_dags package on its own: settings, paths, model refs, the operator factory and the raw data
sensor (the model sensor has its own file)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from docker.types import Mount

from airflow_ml_dags.defaults import dag_args, manual_dag_args, start_date
from airflow_ml_dags.model_refs import FolderRef, ModelRefError, RegistryRef, parse_model_ref
from airflow_ml_dags.operators import stage_task
from airflow_ml_dags.contract import window
from airflow_ml_dags.paths import container_path, raw_files
from airflow_ml_dags.sensors import RawDataSensor, wait_for_files
from airflow_ml_dags.settings import SettingsError, load_settings

BASE_ENV = {"HOST_DATA_DIR": "/srv/ml/data", "IMAGE_VERSION": "1.2.3"}


class TestSettings:
    def test_defaults(self):
        s = load_settings(BASE_ENV)
        assert s.host_data_dir == "/srv/ml/data"
        assert s.image("train") == "airflow-ml-dags/train:1.2.3"
        assert s.docker_url == "unix://var/run/docker.sock"
        assert s.docker_network is None
        assert s.mlflow_tracking_uri is None
        assert s.airflow_mlflow_uri is None
        assert s.mlflow_experiment_name is None
        assert s.mlflow_registered_model == "airflow-ml-dags-classifier"
        assert s.default_model_ref == "models:/airflow-ml-dags-classifier@production"
        assert s.task_retries == 2
        assert (s.pipeline_start_date, s.pipeline_end_date) == (None, None)
        assert s.generate_rows == 5000
        assert s.data_volume is None

    def test_from_environment(self):
        s = load_settings(
            {
                **BASE_ENV,
                "IMAGE_PREFIX": "registry.example/ml",
                "DOCKER_URL": "tcp://docker:2375",
                "DOCKER_NETWORK": "ml_net",
                "MLFLOW_TRACKING_URI": "http://mlflow:5000",
                "TASK_RETRIES": "0",
                "SENSOR_TIMEOUT_SECONDS": "30",
            }
        )
        assert s.image("predict") == "registry.example/ml/predict:1.2.3"
        assert (s.docker_url, s.docker_network) == ("tcp://docker:2375", "ml_net")
        assert s.mlflow_tracking_uri == "http://mlflow:5000"
        assert (s.task_retries, s.sensor_timeout) == (0, 30)

    def test_mlflow_settings(self):
        s = load_settings(
            {
                **BASE_ENV,
                "MLFLOW_TRACKING_URI": "http://mlflow:5000/",
                "MLFLOW_EXPERIMENT_NAME": "nightly",
                "MLFLOW_REGISTERED_MODEL": "churn",
            }
        )
        assert s.mlflow_tracking_uri == "http://mlflow:5000"
        assert s.mlflow_experiment_name == "nightly"
        assert s.default_model_ref == "models:/churn@production"
        # The Airflow process reaches MLflow where the containers do, unless told otherwise.
        assert s.airflow_mlflow_uri == "http://mlflow:5000"
        other = load_settings(
            {**BASE_ENV, "MLFLOW_TRACKING_URI": "http://mlflow:5000", "AIRFLOW_MLFLOW_URI": "https://127.0.0.1:5001"}
        )
        assert (other.mlflow_tracking_uri, other.airflow_mlflow_uri) == ("http://mlflow:5000", "https://127.0.0.1:5001")

    def test_a_fixed_window_and_rows(self):
        s = load_settings(
            {**BASE_ENV, "PIPELINE_START_DATE": "2026-11-02", "PIPELINE_END_DATE": "2026-11-08", "GENERATE_ROWS": "300"}
        )
        assert (s.pipeline_start_date, s.pipeline_end_date) == (date(2026, 11, 2), date(2026, 11, 8))
        assert s.generate_rows == 300
        # One day is a window too; and the start alone is an open window.
        one = load_settings({**BASE_ENV, "PIPELINE_START_DATE": "2026-11-02", "PIPELINE_END_DATE": "2026-11-02"})
        assert one.pipeline_end_date == one.pipeline_start_date
        assert load_settings({**BASE_ENV, "PIPELINE_START_DATE": "2026-11-02"}).pipeline_end_date is None

    def test_docker_host_is_the_fallback_url(self):
        assert load_settings({**BASE_ENV, "DOCKER_HOST": "tcp://engine:2376"}).docker_url == "tcp://engine:2376"

    def test_version_defaults_to_the_checkout(self):
        from airflow_ml_dags.settings import _VERSION_FILE

        expected = _VERSION_FILE.read_text().strip()
        assert load_settings({"HOST_DATA_DIR": "/d"}).image_version == expected

    @pytest.mark.parametrize(
        ("env", "message"),
        [
            ({"HOST_DATA_DIR": "data"}, "HOST_DATA_DIR: expected an absolute path"),
            ({"TASK_RETRIES": "two"}, "TASK_RETRIES: expected an integer"),
            ({"SENSOR_POKE_INTERVAL_SECONDS": "0"}, "SENSOR_POKE_INTERVAL_SECONDS: expected at least 1"),
            ({"MLFLOW_TRACKING_URI": "mlflow:5000"}, "MLFLOW_TRACKING_URI: expected an http.s. URL"),
            ({"MLFLOW_TRACKING_URI": "file:///mlruns"}, "MLFLOW_TRACKING_URI: expected an http.s. URL"),
            ({"AIRFLOW_MLFLOW_URI": "127.0.0.1:5000"}, "AIRFLOW_MLFLOW_URI: expected an http.s. URL"),
            ({"MLFLOW_REGISTERED_MODEL": "team/model"}, "MLFLOW_REGISTERED_MODEL: expected a model name"),
            ({"MLFLOW_REGISTERED_MODEL": "model@v2"}, "MLFLOW_REGISTERED_MODEL: expected a model name"),
            ({"PIPELINE_START_DATE": "2026-13-01"}, "PIPELINE_START_DATE: expected a date YYYY-MM-DD"),
            ({"PIPELINE_START_DATE": "20261102"}, "PIPELINE_START_DATE: expected a date YYYY-MM-DD"),
            ({"PIPELINE_END_DATE": "2026-11-08"}, "PIPELINE_END_DATE: set PIPELINE_START_DATE too"),
            (
                {"PIPELINE_START_DATE": "2026-11-08", "PIPELINE_END_DATE": "2026-11-02"},
                "PIPELINE_END_DATE: 2026-11-02 is before PIPELINE_START_DATE 2026-11-08",
            ),
            ({"GENERATE_ROWS": "0"}, "GENERATE_ROWS: expected at least 1"),
            ({"GENERATE_ROWS": "many"}, "GENERATE_ROWS: expected an integer"),
            ({"GENERATE_DRIFT_FROM": "2026-11-31"}, "GENERATE_DRIFT_FROM: expected a date YYYY-MM-DD"),
            ({"PIPELINE_CATCHUP": "no"}, "PIPELINE_CATCHUP: expected true or false, got 'no'"),
            ({"DATA_VOLUME": "/srv/ml/data"}, "DATA_VOLUME: expected a Docker volume name"),
            ({"DATA_VOLUME": "ml data"}, "DATA_VOLUME: expected a Docker volume name"),
            ({"DATA_VOLUME": "-data"}, "DATA_VOLUME: expected a Docker volume name"),
            ({"DATA_VOLUME": "d"}, "DATA_VOLUME: expected a Docker volume name"),
        ],
    )
    def test_bad_values_name_the_variable(self, env, message):
        with pytest.raises(SettingsError, match=message):
            load_settings({**BASE_ENV, **env})

    def test_unknown_stage(self):
        with pytest.raises(SettingsError, match="unknown image 'score'"):
            load_settings(BASE_ENV).image("score")


class TestPaths:
    def test_last_days_cross_a_month_oldest_first(self):
        assert window("2026-12-02", 3) == ["2026-11-30", "2026-12-01", "2026-12-02"]

    def test_last_days_cross_a_leap_day(self):
        assert window("2028-03-01", 2) == ["2028-02-29", "2028-03-01"]

    def test_last_days_needs_one(self):
        with pytest.raises(ValueError, match="days: expected at least 1"):
            window("2026-11-20", 0)

    def test_raw_files(self):
        assert raw_files("2026-11-20", 2, ("raw_data", "raw_target")) == [
            "raw/2026-11-19/data.csv",
            "raw/2026-11-19/target.csv",
            "raw/2026-11-20/data.csv",
            "raw/2026-11-20/target.csv",
        ]

    def test_container_path(self):
        assert container_path("models/2026-11-20") == "/data/models/2026-11-20"
        assert container_path(" models/2026-11-20/ ") == "/data/models/2026-11-20"

    @pytest.mark.parametrize("bad", ["/srv/ml/data/models/x", "../models/x", "models/../../etc", "", "."])
    def test_container_path_refuses_other_path_spaces(self, bad):
        with pytest.raises(ValueError, match="expected a path relative to the data folder"):
            container_path(bad)


class TestModelRefs:
    @pytest.mark.parametrize(
        ("ref", "expected"),
        [
            (
                "models:/airflow-ml-dags-classifier@production",
                RegistryRef(
                    "models:/airflow-ml-dags-classifier@production", "airflow-ml-dags-classifier", alias="production"
                ),
            ),
            (" models:/churn/12 ", RegistryRef("models:/churn/12", "churn", version="12")),
            ("models/2026-11-20", FolderRef("models/2026-11-20", "/data/models/2026-11-20")),
            ("models/2026-11-20/", FolderRef("models/2026-11-20", "/data/models/2026-11-20")),
        ],
    )
    def test_parse(self, ref, expected):
        assert parse_model_ref(ref) == expected

    @pytest.mark.parametrize(
        ("ref", "message"),
        [
            ("models:/churn", "malformed registry reference"),
            ("models:/churn@", "malformed registry reference"),
            ("models:/churn/0", "malformed registry reference"),
            ("models:/churn/latest", "malformed registry reference"),
            ("models:/a/b/1", "malformed registry reference"),
            ("models:/churn@pro/d", "malformed registry reference"),
            ("model:/churn@production", "not a registry reference"),
            ("runs:/abc/model", "not a registry reference"),
            ("/srv/ml/data/models/x", "expected a path relative to the data folder"),
            ("../models/x", "expected a path relative to the data folder"),
            ("", "empty"),
            ("   ", "empty"),
            (None, "empty"),
        ],
    )
    def test_refs_predict_could_not_load_are_refused_by_name(self, ref, message):
        with pytest.raises(ModelRefError, match=f"model_ref {ref!r}.*{message}" if ref else message):
            parse_model_ref(ref)


class TestFactory:
    def test_docker_operator_arguments(self):
        s = load_settings({**BASE_ENV, "DOCKER_NETWORK": "ml_net", "MLFLOW_TRACKING_URI": "http://mlflow:5000"})
        op = stage_task("split", "split", ["--ds", "{{ ds }}"], settings=s)
        assert op.image == "airflow-ml-dags/prepare:1.2.3"
        assert op.command == ["split", "--ds", "{{ ds }}", "--data-dir", "/data"]
        assert op.mounts == [Mount(target="/data", source="/srv/ml/data", type="bind")]
        assert op.mount_tmp_dir is False
        assert op.auto_remove == "force"
        assert op.network_mode == "ml_net"
        assert op.environment == {
            "MLFLOW_TRACKING_URI": "http://mlflow:5000",
            "MLFLOW_REGISTERED_MODEL": "airflow-ml-dags-classifier",
            "AML_IMAGE": "airflow-ml-dags/prepare:1.2.3",
        }
        assert op.do_xcom_push is True
        assert op.tty is True

    def test_no_mlflow_only_the_model_name(self):
        op = stage_task("generate", "generate", ["--ds", "{{ ds }}"], settings=load_settings(BASE_ENV))
        assert op.environment == {
            "MLFLOW_REGISTERED_MODEL": "airflow-ml-dags-classifier",
            "AML_IMAGE": "airflow-ml-dags/generate:1.2.3",
        }
        assert op.network_mode is None

    def test_every_mlflow_setting_reaches_the_container_but_airflows_own_address(self):
        s = load_settings(
            {
                **BASE_ENV,
                "MLFLOW_TRACKING_URI": "http://mlflow:5000",
                "MLFLOW_EXPERIMENT_NAME": "nightly",
                "MLFLOW_REGISTERED_MODEL": "churn",
                "AIRFLOW_MLFLOW_URI": "http://127.0.0.1:5001",
            }
        )
        op = stage_task("train", "train", ["--ds", "{{ ds }}"], settings=s)
        assert op.environment == {
            "MLFLOW_TRACKING_URI": "http://mlflow:5000",
            "MLFLOW_EXPERIMENT_NAME": "nightly",
            "MLFLOW_REGISTERED_MODEL": "churn",
            "AML_IMAGE": "airflow-ml-dags/train:1.2.3",
        }

    @pytest.mark.parametrize("host_data_dir", ["/srv/ml/data", None])
    def test_a_data_volume_replaces_the_data_folder(self, host_data_dir):
        env = {"IMAGE_VERSION": "1.2.3", "DATA_VOLUME": "aml_data.v1"}
        if host_data_dir:
            env["HOST_DATA_DIR"] = host_data_dir
        op = stage_task("split", "split", ["--ds", "{{ ds }}"], settings=load_settings(env))
        assert op.mounts == [Mount(target="/data", source="aml_data.v1", type="volume")]
        assert op.command[-2:] == ["--data-dir", "/data"]
        assert stage_task("promote", "promote", [], settings=load_settings(env)).mounts == []

    @pytest.mark.parametrize(("stage", "queue"), [("train", "training"), ("split", "default"), ("promote", "default")])
    def test_a_task_goes_to_its_stages_queue(self, stage, queue):
        assert stage_task(stage, stage, [], settings=load_settings(BASE_ENV)).queue == queue

    def test_a_task_without_data_gets_no_mount_and_no_data_dir(self):
        op = stage_task("promote", "promote", ["--version", "2"], settings=load_settings(BASE_ENV))
        assert op.image == "airflow-ml-dags/validate:1.2.3"
        assert op.command == ["promote", "--version", "2"]
        assert op.mounts == []

    def test_unknown_stage_is_refused(self):
        with pytest.raises(KeyError):
            stage_task("score", "score", [], settings=load_settings(BASE_ENV))


class TestSchedule:
    def test_start_date_is_midnight_utc_of_the_first_backfilled_day(self):
        s = load_settings({**BASE_ENV, "BACKFILL_DAYS": "7"})
        now = datetime(2026, 11, 27, 15, 30, tzinfo=UTC)
        assert start_date(s, now) == datetime(2026, 11, 21, tzinfo=UTC)

    def test_a_fixed_window_starts_and_ends_at_midnight_utc(self):
        s = load_settings({**BASE_ENV, "PIPELINE_START_DATE": "2026-11-02", "PIPELINE_END_DATE": "2026-11-08"})
        args = dag_args("@daily", s)
        assert args["start_date"] == datetime(2026, 11, 2, tzinfo=UTC)
        assert args["end_date"] == datetime(2026, 11, 8, tzinfo=UTC)
        # The clock does not move a fixed window.
        assert start_date(s, datetime(2030, 1, 1, tzinfo=UTC)) == datetime(2026, 11, 2, tzinfo=UTC)

    @pytest.mark.parametrize(
        ("cron", "expected"), [("@daily", [f"2026-11-{d:02d}" for d in range(2, 9)]), ("@weekly", ["2026-11-08"])]
    )
    def test_a_fixed_window_runs_exactly_its_days(self, cron, expected):
        """What the scheduler makes of the end-to-end test's week: every day once, one Sunday training."""
        from airflow.serialization.encoders import coerce_to_core_timetable
        from airflow.timetables.base import TimeRestriction

        args = dag_args(
            cron, load_settings({**BASE_ENV, "PIPELINE_START_DATE": "2026-11-02", "PIPELINE_END_DATE": "2026-11-08"})
        )
        timetable = coerce_to_core_timetable(args["schedule"])
        restriction = TimeRestriction(earliest=args["start_date"], latest=args["end_date"], catchup=True)
        dates, last = [], None
        while (
            info := timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
        ) is not None:
            dates.append(f"{info.logical_date:%Y-%m-%d}")
            last = info.data_interval
        assert dates == expected

    def test_manual_dag_args(self):
        args = manual_dag_args(load_settings({**BASE_ENV, "TASK_RETRIES": "1"}))
        assert args["schedule"] is None
        assert "start_date" not in args and "catchup" not in args
        assert args["default_args"]["retries"] == 1

    def test_no_catchup_makes_no_run_of_a_past_window(self):
        # PIPELINE_CATCHUP=false with a window that has ended: the scheduler itself must start nothing, so a
        # backfill of the window is the only thing that runs it (the Celery e2e relies on it).
        env = {**BASE_ENV, "PIPELINE_CATCHUP": "false", "PIPELINE_START_DATE": "2026-11-02", "PIPELINE_END_DATE": "2026-11-08"}
        from airflow.serialization.encoders import coerce_to_core_timetable
        from airflow.timetables.base import TimeRestriction

        args = dag_args("@daily", load_settings(env))
        assert args["catchup"] is False
        timetable = coerce_to_core_timetable(args["schedule"])
        restriction = TimeRestriction(earliest=args["start_date"], latest=args["end_date"], catchup=False)
        assert timetable.next_dagrun_info(last_automated_data_interval=None, restriction=restriction) is None
        # The same window with catchup: its first day is due at once.
        catchup = TimeRestriction(earliest=args["start_date"], latest=args["end_date"], catchup=True)
        assert f"{timetable.next_dagrun_info(last_automated_data_interval=None, restriction=catchup).logical_date:%F}" == "2026-11-02"
        assert dag_args("@daily", load_settings({**env, "PIPELINE_CATCHUP": "true"}))["catchup"] is True

    def test_dag_args(self):
        args = dag_args("@daily", load_settings({**BASE_ENV, "TASK_RETRIES": "3"}))
        assert (args["catchup"], args["max_active_runs"]) == (True, 1)
        assert args["default_args"]["retries"] == 3
        assert args["schedule"].expression == "0 0 * * *"
        assert args["end_date"] is None


class TestRawDataSensor:
    @pytest.fixture
    def data(self, tmp_path, monkeypatch):
        monkeypatch.setenv("AIRFLOW_CONN_FS_TEST", json.dumps({"conn_type": "fs", "extra": {"path": str(tmp_path)}}))
        return tmp_path

    def _touch(self, base, *relative):
        for r in relative:
            (base / r).parent.mkdir(parents=True, exist_ok=True)
            (base / r).write_text("id\n")

    def test_waits_for_every_file_of_every_day(self, data):
        sensor = RawDataSensor(task_id="s", keys=("raw_data", "raw_target"), days="2", fs_conn_id="fs_test")
        ctx = {"ds": "2026-11-20"}
        self._touch(data, "raw/2026-11-20/data.csv", "raw/2026-11-20/target.csv", "raw/2026-11-19/data.csv")
        assert sensor.poke(ctx) is False
        self._touch(data, "raw/2026-11-19/target.csv")
        assert sensor.poke(ctx) is True

    def test_a_folder_is_not_a_file(self, data):
        sensor = RawDataSensor(task_id="s", keys=("raw_data",), fs_conn_id="fs_test")
        (data / "raw/2026-11-20/data.csv").mkdir(parents=True)
        assert sensor.poke({"ds": "2026-11-20"}) is False

    def test_only_the_run_date_by_default(self, data):
        sensor = RawDataSensor(task_id="s", keys=("raw_data",), fs_conn_id="fs_test")
        self._touch(data, "raw/2026-11-20/data.csv")
        assert sensor.poke({"ds": "2026-11-20"}) is True
        assert sensor.poke({"ds": "2026-11-21"}) is False

    def test_connection_without_a_path_fails_at_once(self, monkeypatch):
        from airflow.sdk.exceptions import AirflowFailException

        monkeypatch.setenv("AIRFLOW_CONN_FS_EMPTY", json.dumps({"conn_type": "fs"}))
        sensor = RawDataSensor(task_id="s", keys=("raw_data",), fs_conn_id="fs_empty")
        with pytest.raises(AirflowFailException, match="'fs_empty': expected an absolute 'path' extra"):
            sensor.poke({"ds": "2026-11-20"})

    def test_bad_days_fails_at_once(self, data):
        from airflow.sdk.exceptions import AirflowFailException

        sensor = RawDataSensor(task_id="s", keys=("raw_data",), days="many", fs_conn_id="fs_test")
        with pytest.raises(AirflowFailException, match="days: expected an integer, got 'many'"):
            sensor.poke({"ds": "2026-11-20"})

    def test_helper_reschedules_with_the_settings(self):
        s = load_settings({**BASE_ENV, "SENSOR_POKE_INTERVAL_SECONDS": "7", "SENSOR_TIMEOUT_SECONDS": "70"})
        sensor = wait_for_files("w", keys=("raw_data",), settings=s)
        assert sensor.mode == "reschedule"
        assert (sensor.poke_interval, sensor.timeout) == (7, 70)
