"""Failure alerts, delivered for real: a webhook receiver (http.server in a thread) and an SMTP server (aiosmtpd,
with a login) listen on this machine, and the DAGs, parsed with ALERT_* pointing at them, fail under dag.test():
a task image on bad input (after a retry), a sensor whose input never arrives. Every alert must arrive on both
channels, once, naming the DAG, the task, ds, the try, the error's line and the log URL; a run that succeeds
sends nothing; a broken channel does not hide the failure and says so in the task's log.

The runs use days of March 2025 (a fixed window), which no other DAG test touches.
"""

from __future__ import annotations

import csv
import email
import email.policy
import html
import json
import socket
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

import pytest
from conftest import DAGS_FOLDER, DATA_DIR, run_dag

from airflow_ml_dags.alerts import (
    AlertNotDelivered,
    FailureAlert,
    error_line,
    post_webhook,
    public_address,
)
from airflow_ml_dags.settings import SettingsError, load_settings

pytestmark = pytest.mark.filterwarnings(
    # The sink asks for a login over plain SMTP on purpose: it checks that the connection's credentials are used.
    "ignore:Requiring AUTH while not requiring TLS:UserWarning"
)

WINDOW = ("2025-03-03", "2025-03-09")
BASE_URL = "http://airflow.alerts.test:8080"
SMTP_LOGIN, SMTP_PASSWORD = "alerts", "smtp-test-password"
EMAIL_FROM = "airflow-alerts@example.com"
EMAIL_TO = ("ml-team@example.com", "oncall@example.com")
FEATURES = [f"f{i:02d}" for i in range(20)]
# A bad cell on the 7th data row: the prepare image's one error line (docs/contracts.md) names it.
BAD_ROW, BAD_COLUMN, BAD_VALUE = 7, "f03", "abc"
DOWNSTREAM_NOT_RUN = {
    t: "upstream_failed" for t in ("split", "train", "validate", "review", "promote_approved", "record_rejection")
}


# ---- the receivers ---------------------------------------------------------------------------------------------


class WebhookReceiver:
    """Records every POST (path and JSON body); answers 500 on paths under /broken, 200 elsewhere."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, object]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.posts.append((self.path, json.loads(body)))
                status, answer = (500, b"receiver is down") if self.path.startswith("/broken") else (200, b"ok")
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's name
                pass  # the test asserts on what arrived; request lines would only clutter the output

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    login: str | None
    message: email.message.EmailMessage


@dataclass
class SmtpSink:
    """An SMTP server that requires a login (over plain SMTP, as the test connection says) and keeps each mail."""

    mails: list[Mail] = field(default_factory=list)
    port: int = 0

    def start(self) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                login = session.auth_data.login.decode() if session.authenticated else None
                message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
                sink.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), login, message))
                return "250 OK"

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = auth_data.login == SMTP_LOGIN.encode() and auth_data.password == SMTP_PASSWORD.encode()
            return AuthResult(success=ok, auth_data=auth_data)

        self.port = _free_port()
        self.controller = Controller(
            Handler(),
            hostname="127.0.0.1",
            port=self.port,
            authenticator=authenticator,
            auth_required=True,
            auth_require_tls=False,
        )
        self.controller.start()

    def close(self) -> None:
        self.controller.stop()


def _free_port() -> int:
    # aiosmtpd's controller checks its port by connecting to it, so it needs a real number up front.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def webhook():
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def smtp():
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.close()


@pytest.fixture
def received(webhook, smtp):
    """Both receivers, emptied before each test: every test asserts all that arrived during it."""
    webhook.posts.clear()
    smtp.mails.clear()
    return webhook, smtp


def _smtp_connection(port: int) -> str:
    return json.dumps(
        {
            "conn_type": "smtp",
            "host": "127.0.0.1",
            "port": port,
            "login": SMTP_LOGIN,
            "password": SMTP_PASSWORD,
            # The local sink speaks plain SMTP; a deployment keeps TLS on.
            "extra": {"disable_ssl": True, "disable_tls": True, "timeout": 10, "retry_limit": 0},
        }
    )


def _parse(env: pytest.MonkeyPatch, **alert_env: str):
    """The DAGs as a deployment with these alert settings parses them. The caller keeps ``env`` set while
    the DAGs run: dag.test() parses the folder again to store the DAG."""
    from airflow.dag_processing.dagbag import DagBag

    for name in ("ALERT_WEBHOOK_URL", "ALERT_EMAIL_TO", "ALERT_EMAIL_FROM"):
        env.delenv(name, raising=False)
    env.setenv("PIPELINE_START_DATE", WINDOW[0])
    env.setenv("PIPELINE_END_DATE", WINDOW[1])
    env.setenv("AIRFLOW__API__BASE_URL", BASE_URL)
    for name, value in alert_env.items():
        env.setenv(name, value)
    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    assert bag.import_errors == {}
    return bag.dags


@pytest.fixture
def alerting(webhook, smtp):
    """The DAGs with both channels on, pointing at the local receivers: a fresh parse for each test, so what
    a test changes on a task stays in that test."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AIRFLOW_CONN_SMTP_DEFAULT", _smtp_connection(smtp.port))
        yield _parse(
            env,
            ALERT_WEBHOOK_URL=webhook.url("/hooks/T000/B000/secret-token"),
            ALERT_EMAIL_TO=", ".join(EMAIL_TO),
            ALERT_EMAIL_FROM=EMAIL_FROM,
        )


# ---- helpers for the runs --------------------------------------------------------------------------------------


def _day(ds: str) -> datetime:
    return datetime.fromisoformat(ds).replace(tzinfo=UTC)


def _run(dag, ds, case, conf=None):
    return run_dag(dag, _day(ds), conf, label=f"alerts: dag.test {dag.dag_id} ({case})")


def _write_bad_raw_data(ds: str) -> None:
    """A day of raw data that the sensor accepts (both files are there) and prepare refuses."""
    folder = DATA_DIR / "raw" / ds
    folder.mkdir(parents=True, exist_ok=True)
    ids = [f"{ds.replace('-', '')}-{i:06d}" for i in range(12)]
    with open(folder / "data.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", *FEATURES])
        for n, row_id in enumerate(ids, start=1):
            row = [row_id] + ["0.5"] * len(FEATURES)
            if n == BAD_ROW:
                row[1 + FEATURES.index(BAD_COLUMN)] = BAD_VALUE
            writer.writerow(row)
    with open(folder / "target.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "target"])
        writer.writerows([row_id, n % 2] for n, row_id in enumerate(ids))


def _prepare_error(ds: str) -> str:
    # The data file's line number: the header is line 1.
    return f'/data/raw/{ds}/data.csv: row {BAD_ROW + 1}, column "{BAD_COLUMN}": not a finite number ("{BAD_VALUE}")'


def _log_url(dag_run, task_id: str, try_number: int) -> str:
    return f"{BASE_URL}/dags/{dag_run.dag_id}/runs/{quote(dag_run.run_id)}/tasks/{task_id}?try_number={try_number}"


def _expected_text(dag_id, task_id, ds, tries, error, log_url) -> str:
    return "\n".join(
        [
            f"Airflow task failed: {dag_id}.{task_id} for {ds} (try {tries})",
            f"DAG: {dag_id}",
            f"Task: {task_id}",
            f"ds: {ds}",
            f"Try: {tries}",
            f"Error: {error}",
            f"Log: {log_url}",
        ]
    )


def _assert_mail(mail: Mail, dag_id, task_id, ds, tries, error, log_url) -> None:
    assert mail.login == SMTP_LOGIN
    assert mail.mail_from == EMAIL_FROM
    assert sorted(mail.rcpt_tos) == sorted(EMAIL_TO)
    assert mail.message["Subject"] == f"Airflow task failed: {dag_id}.{task_id} for {ds} (try {tries})"
    body = mail.message.get_body(("html",)).get_content()
    for value in (dag_id, task_id, ds, tries, error):
        assert f"<td>{html.escape(value)}</td>" in body, value
    assert f'<a href="{html.escape(log_url)}">' in body


# ---- the settings and the wiring, without running anything ------------------------------------------------------

BASE_ENV = {"HOST_DATA_DIR": "/srv/ml/data", "IMAGE_VERSION": "1.2.3"}


class TestAlertSettings:
    def test_off_by_default(self):
        s = load_settings(BASE_ENV)
        assert (s.alert_webhook_url, s.alert_email_to, s.alert_email_from) == (None, (), None)

    def test_from_environment(self):
        s = load_settings(
            {
                **BASE_ENV,
                "ALERT_WEBHOOK_URL": "https://hooks.example.com/services/T0/B0/secret?x=1",
                "ALERT_EMAIL_TO": " ml-team@example.com,oncall@example.com ",
                "ALERT_EMAIL_FROM": "airflow@example.com",
            }
        )
        assert s.alert_webhook_url == "https://hooks.example.com/services/T0/B0/secret?x=1"
        assert s.alert_email_to == ("ml-team@example.com", "oncall@example.com")
        assert s.alert_email_from == "airflow@example.com"
        # The settings may be printed; the webhook's secret must not be.
        assert "secret" not in repr(s)

    @pytest.mark.parametrize(
        "url",
        [
            "hooks.example.com/services/secret",
            "ftp://hooks.example.com/secret",
            "https://hooks.example.com/secret#x",
            "http:///secret",
            "http://hooks.example.com:port/secret",
        ],
    )
    def test_a_bad_webhook_url_is_refused_without_printing_it(self, url):
        with pytest.raises(SettingsError, match="ALERT_WEBHOOK_URL: expected an http.s. URL") as caught:
            load_settings({**BASE_ENV, "ALERT_WEBHOOK_URL": url})
        assert "secret" not in str(caught.value)

    @pytest.mark.parametrize(
        ("name", "value", "message"),
        [
            ("ALERT_EMAIL_TO", "ops", "ALERT_EMAIL_TO: expected e-mail addresses separated by commas, got 'ops'"),
            ("ALERT_EMAIL_TO", "a@example.com b@example.com", "ALERT_EMAIL_TO: expected e-mail addresses"),
            ("ALERT_EMAIL_TO", "a@example.com;b@example.com", "ALERT_EMAIL_TO: expected e-mail addresses"),
            ("ALERT_EMAIL_TO", "a@example.com,,b@example.com", "ALERT_EMAIL_TO: expected e-mail addresses"),
            ("ALERT_EMAIL_FROM", "Airflow <airflow@example.com>", "ALERT_EMAIL_FROM: expected one e-mail address"),
        ],
    )
    def test_bad_addresses_name_the_variable(self, name, value, message):
        with pytest.raises(SettingsError, match=message):
            load_settings({**BASE_ENV, name: value})


class TestErrorLine:
    def test_a_task_image_says_what_went_wrong_in_its_last_error_line(self):
        from airflow.providers.docker.exceptions import DockerContainerFailedException

        logs = [
            '{"level":"info","stage":"prepare","msg":"reading 1 day"}',
            '{"level":"error","stage":"prepare","msg":"an earlier error"}',
            b'{"level":"error","stage":"prepare","msg":"/data/raw/2025-03-04/data.csv: row 8: bad\\nsecond line"}\r',
            "not JSON at all",
            '{"level":"info","msg":"closing"}',
        ]
        err = DockerContainerFailedException("Docker container failed: {'StatusCode': 1}", logs=logs)
        assert error_line(err) == "second line"

    def test_a_container_without_an_error_line_falls_back_to_the_exception(self):
        from airflow.providers.docker.exceptions import DockerContainerFailedException

        # Killed for memory: no error line, and the exit code is what tells.
        err = DockerContainerFailedException("Docker container failed: {'StatusCode': 137}", logs=['{"level":"info"}'])
        assert error_line(err) == "DockerContainerFailedException: Docker container failed: {'StatusCode': 137}"

    def test_other_exceptions_end_like_a_traceback(self):
        assert error_line(ValueError("first\n\nlast line  \n")) == "ValueError: last line"
        assert error_line(KeyError()) == "KeyError"
        assert error_line("lost\nheartbeat") == "heartbeat"
        assert error_line(None).startswith("no exception recorded")

    def test_a_huge_line_is_cut(self):
        assert len(error_line(RuntimeError("x" * 5000))) == 500


class TestWebhook:
    def test_posts_slack_compatible_json(self, received):
        webhook, _ = received
        post_webhook(webhook.url("/hooks/a"), "line one\nline two")
        assert webhook.posts == [("/hooks/a", {"text": "line one\nline two"})]

    def test_an_error_answer_is_raised_with_the_status(self, received):
        webhook, _ = received
        with pytest.raises(AlertNotDelivered, match=r"HTTP 500 Internal Server Error \(receiver is down\)"):
            post_webhook(webhook.url("/broken/secret"), "x")

    def test_a_silent_server_is_given_up_after_the_timeout(self):
        # Accepts connections (the backlog) and never answers.
        with socket.create_server(("127.0.0.1", 0)) as silent:
            url = f"http://127.0.0.1:{silent.getsockname()[1]}/hook"
            with pytest.raises(AlertNotDelivered, match="no answer.*timed out"):
                post_webhook(url, "x", timeout=0.5)

    def test_nobody_listening(self):
        port = _free_port()
        with pytest.raises(AlertNotDelivered, match="no answer.*refused"):
            post_webhook(f"http://127.0.0.1:{port}/hook", "x")

    def test_an_answer_that_is_not_http(self):
        with socket.create_server(("127.0.0.1", 0)) as server:
            url = f"http://127.0.0.1:{server.getsockname()[1]}/hook"

            def answer_garbage():
                conn, _ = server.accept()
                with conn:
                    conn.recv(65536)
                    conn.sendall(b"SSH-2.0-not-a-web-server\r\n")

            thread = threading.Thread(target=answer_garbage)
            thread.start()
            with pytest.raises(AlertNotDelivered, match="no answer .BadStatusLine"):
                post_webhook(url, "x")
            thread.join()

    def test_logs_show_only_scheme_host_and_port(self):
        assert public_address("https://hooks.example.com/services/T0/B0/secret?token=s") == "https://hooks.example.com"
        assert public_address("http://127.0.0.1:8025/secret") == "http://127.0.0.1:8025"
        assert "secret" not in repr(FailureAlert(webhook_url="https://hooks.example.com/secret"))


def test_an_email_channel_without_its_connection_says_which_connection(monkeypatch):
    """Both channels are tried; what failed is raised together, naming the connection the e-mail needs."""
    monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)
    port = _free_port()  # nobody listens: the webhook fails too
    alert = FailureAlert(webhook_url=f"http://127.0.0.1:{port}/secret", email_to=["ml-team@example.com"])
    with pytest.raises(AlertNotDelivered) as caught:
        alert.notify({"ds": "2025-03-04", "exception": ValueError("boom")})
    message = str(caught.value)
    assert message.startswith(f"failure alert not delivered by webhook http://127.0.0.1:{port}: no answer (")
    assert "; e-mail to ml-team@example.com: " in message
    assert message.endswith("(connection 'smtp_default')")
    assert "secret" not in message


def test_every_task_of_every_dag_alerts_on_failure_and_the_secret_stays_out_of_the_stored_dag(alerting, webhook):
    from airflow.serialization.serialized_objects import DagSerialization

    assert set(alerting) == {"generate_data", "train_model", "predict", "promote_model", "monitor"}
    for dag in alerting.values():
        for task in dag.tasks:
            callbacks = task.on_failure_callback
            assert len(callbacks) == 1, (dag.dag_id, task.task_id)
            alert = callbacks[0]
            assert isinstance(alert, FailureAlert)
            assert alert.webhook_url == webhook.url("/hooks/T000/B000/secret-token")
            assert (alert.email_to, alert.email_from) == (EMAIL_TO, EMAIL_FROM)
        assert "secret-token" not in json.dumps(DagSerialization.to_dict(dag))


# ---- real runs -----------------------------------------------------------------------------------------------


@pytest.mark.docker
@pytest.mark.usefixtures("images", "airflow_db")
class TestRuns:
    def test_a_successful_run_sends_nothing(self, alerting, received):
        webhook, smtp = received
        dag_run, states = _run(alerting["generate_data"], "2025-03-03", "success", conf={"rows": 50})
        assert states == {"generate": "success"}
        assert dag_run.state == "success"
        assert (webhook.posts, smtp.mails) == ([], [])

    def test_a_task_image_failing_on_bad_input_alerts_once_after_its_last_try(self, alerting, received):
        webhook, smtp = received
        ds = "2025-03-04"
        _write_bad_raw_data(ds)
        dag = alerting["train_model"]
        # One retry, at once: the alert must name the second try, and the first try must send nothing.
        prepare = dag.get_task("prepare")
        prepare.retries, prepare.retry_delay, prepare.retry_exponential_backoff = 1, timedelta(0), False

        dag_run, states = _run(dag, ds, "bad input, one retry")

        # Tasks that never ran (upstream_failed) send nothing either: one alert for the run.
        assert states == {"wait_for_raw_data": "success", "prepare": "failed", **DOWNSTREAM_NOT_RUN}
        assert dag_run.state == "failed"
        log_url = _log_url(dag_run, "prepare", 2)
        fields = ("train_model", "prepare", ds, "2 of 2", _prepare_error(ds), log_url)
        assert webhook.posts == [("/hooks/T000/B000/secret-token", {"text": _expected_text(*fields)})]
        assert len(smtp.mails) == 1
        _assert_mail(smtp.mails[0], *fields)

    def test_a_sensor_timing_out_alerts(self, alerting, received, capfd):
        webhook, smtp = received
        ds = "2025-03-05"  # no raw data, ever
        dag = alerting["train_model"]
        sensor = dag.get_task("wait_for_raw_data")
        sensor.poke_interval, sensor.timeout = 1, 3

        dag_run, states = _run(dag, ds, "sensor timeout")

        assert states == {"wait_for_raw_data": "failed", "prepare": "upstream_failed", **DOWNSTREAM_NOT_RUN}
        assert "AirflowSensorTimeout: Sensor has timed out" in "".join(capfd.readouterr())
        assert len(webhook.posts) == 1
        text = webhook.posts[0][1]["text"]
        error = text.split("\nError: ", 1)[1].split("\n", 1)[0]
        # The run duration in the message is whatever it took.
        assert error.startswith("AirflowSensorTimeout: Sensor has timed out; run duration of ")
        assert error.endswith(" seconds exceeds the specified timeout of 3.")
        fields = ("train_model", "wait_for_raw_data", ds, "1 of 1", error, _log_url(dag_run, "wait_for_raw_data", 1))
        assert text == _expected_text(*fields)
        assert len(smtp.mails) == 1
        _assert_mail(smtp.mails[0], *fields)

    def test_a_broken_channel_does_not_hide_the_failure_and_shows_in_the_log(self, webhook, smtp, received, capfd):
        ds = "2025-03-06"
        _write_bad_raw_data(ds)
        with pytest.MonkeyPatch.context() as env:
            env.setenv("AIRFLOW_CONN_SMTP_DEFAULT", _smtp_connection(smtp.port))
            dags = _parse(
                env,
                ALERT_WEBHOOK_URL=webhook.url("/broken/T000/secret-token"),
                ALERT_EMAIL_TO=EMAIL_TO[0],
                ALERT_EMAIL_FROM=EMAIL_FROM,
            )
            dag = dags["train_model"]
            capfd.readouterr()
            dag_run, states = _run(dag, ds, "webhook down")

        assert states == {"wait_for_raw_data": "success", "prepare": "failed", **DOWNSTREAM_NOT_RUN}
        assert dag_run.state == "failed"
        out = "".join(capfd.readouterr())
        # The task's own failure is in its log, then the alert that did not go out, without the webhook's secret.
        assert "DockerContainerFailedException: Docker container failed" in out
        assert (
            f"failure alert not delivered by webhook {webhook.url('')}: HTTP 500 Internal Server Error "
            "(receiver is down)" in out
        )
        assert "secret-token" not in out
        # The other channel still delivered.
        assert [path for path, _ in webhook.posts] == ["/broken/T000/secret-token"]
        assert len(smtp.mails) == 1
        assert smtp.mails[0].rcpt_tos == [EMAIL_TO[0]]

    def test_without_channels_the_log_says_no_alert_was_sent(self, received, capfd):
        ds = "2025-03-07"
        _write_bad_raw_data(ds)
        with pytest.MonkeyPatch.context() as env:
            dags = _parse(env)
            dag = dags["train_model"]
            capfd.readouterr()
            dag_run, states = _run(dag, ds, "alerts off")

        assert states == {"wait_for_raw_data": "success", "prepare": "failed", **DOWNSTREAM_NOT_RUN}
        out = "".join(capfd.readouterr())
        line = (
            f"No failure alert sent for train_model.prepare ({ds}): set ALERT_WEBHOOK_URL or ALERT_EMAIL_TO to get one"
        )
        assert out.count(line) == 1
        assert "failure alert not delivered" not in out
