"""Failure alerts: one notifier that ``default_args`` attaches to every task of every DAG.

It fires when a task fails for good (after its last retry), a sensor's timeout included, and sends the same
message on each channel the settings turn on:

* a webhook: Slack-compatible JSON, ``{"text": ...}``, posted with the standard library;
* e-mail, through the SMTP provider's ``SmtpNotifier`` and the Airflow connection it reads.

The message names the DAG, the task, ``ds``, the try, the error's line and the task's log URL. With no channel
set the task's log says so in one line. A channel that fails is tried no less than the others; then the
notifier raises, so Airflow logs the callback as failed, while the task keeps its own failure and its own log.

The task-level callback is used on purpose: Airflow 3 runs it in the task's process, right after the failure;
DAG-level failure callbacks go through the DAG processor and are less dependable.
"""

from __future__ import annotations

import html
import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from airflow.sdk import BaseNotifier

from airflow_ml_dags.settings import Settings

WEBHOOK_TIMEOUT_SECONDS = 10.0
# What an error line may grow to in a message: a chat line or a subject, not a stack trace.
MAX_ERROR_CHARS = 500


class AlertNotDelivered(Exception):
    """A channel did not take the alert; the message names the channel and why (never a webhook's secret)."""


class Message(Protocol):
    """What a channel sends: a subject line, a plain text and an HTML body (escaped where it quotes a task)."""

    @property
    def subject(self) -> str: ...

    @property
    def text(self) -> str: ...

    @property
    def html(self) -> str: ...


@dataclass(frozen=True)
class Alert:
    dag_id: str
    task_id: str
    ds: str
    try_number: int | None
    max_tries: int | None
    error: str
    log_url: str

    @property
    def tries(self) -> str:
        if self.try_number is None:
            return "unknown"
        if self.max_tries is not None and self.try_number <= self.max_tries + 1:
            return f"{self.try_number} of {self.max_tries + 1}"
        return str(self.try_number)

    def fields(self) -> list[tuple[str, str]]:
        return [
            ("DAG", self.dag_id),
            ("Task", self.task_id),
            ("ds", self.ds),
            ("Try", self.tries),
            ("Error", self.error),
            ("Log", self.log_url),
        ]

    @property
    def subject(self) -> str:
        return f"Airflow task failed: {self.dag_id}.{self.task_id} for {self.ds} (try {self.tries})"

    @property
    def text(self) -> str:
        return "\n".join([self.subject, *(f"{name}: {value}" for name, value in self.fields())])

    @property
    def html(self) -> str:
        # The error comes from the task: escaped, never rendered as a template or as markup.
        rows = "".join(
            f"<tr><th align='left'>{name}</th><td>{_html_value(name, value)}</td></tr>" for name, value in self.fields()
        )
        return f"<p>{html.escape(self.subject)}</p><table>{rows}</table>"


def _html_value(name: str, value: str) -> str:
    escaped = html.escape(value)
    return f'<a href="{escaped}">{escaped}</a>' if name == "Log" and value else escaped


def _last_line(text: str) -> str | None:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else None


def _shorten(text: str) -> str:
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def _container_error(logs: Iterable[str | bytes]) -> str | None:
    """The last ``"level":"error"`` JSON line a task image wrote: the one line naming the file and the problem
    (docs/contracts.md). DockerOperator keeps the container's output on its exception."""
    for raw in reversed(list(logs)):
        line = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        try:
            record = json.loads(line.strip())
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("level") == "error" and isinstance(record.get("msg"), str):
            if found := _last_line(record["msg"]):
                return found
    return None


def error_line(exception: object) -> str:
    """One line that says what went wrong.

    For a task image that failed, its own error line; otherwise the last line of the exception as a traceback
    ends (``Type: message``), so a sensor's timeout reads ``AirflowSensorTimeout: Sensor has timed out; ...``.
    """
    if exception is None:
        return "no exception recorded (the task was failed from outside, e.g. marked failed or lost)"
    if isinstance(exception, str):
        return _shorten(_last_line(exception) or "no error message")
    logs = getattr(exception, "logs", None)
    if isinstance(logs, (list, tuple)) and (found := _container_error(logs)):
        return _shorten(found)
    name = type(exception).__name__
    line = _last_line(str(exception))
    return _shorten(f"{name}: {line}" if line else name)


def alert_from_context(context: Any) -> Alert:
    ti = context.get("ti") or context.get("task_instance")
    task = context.get("task")
    dag = context.get("dag")
    try_number = getattr(ti, "try_number", None)
    max_tries = getattr(ti, "max_tries", None)
    try:
        log_url = str(ti.log_url) if ti is not None else ""
    except Exception as err:  # noqa: BLE001 - a URL we cannot build must not cost the alert itself
        log_url = f"(no log URL: {err})"
    return Alert(
        dag_id=str(getattr(ti, "dag_id", None) or getattr(dag, "dag_id", "?")),
        task_id=str(getattr(ti, "task_id", None) or getattr(task, "task_id", "?")),
        ds=str(context.get("ds") or "(no logical date)"),
        try_number=try_number if isinstance(try_number, int) else None,
        max_tries=max_tries if isinstance(max_tries, int) else None,
        error=error_line(context.get("exception")),
        log_url=log_url,
    )


def public_address(url: str) -> str:
    """scheme://host[:port] of a URL: what the logs may show of a webhook whose path or query is a secret."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def post_webhook(url: str, text: str, timeout: float = WEBHOOK_TIMEOUT_SECONDS) -> None:
    """POSTs ``{"text": text}``; anything but a 2xx answer within ``timeout`` raises AlertNotDelivered."""
    request = urllib.request.Request(
        url,
        data=json.dumps({"text": text}).encode("utf-8"),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as err:
        body = err.read(300).decode("utf-8", "replace").strip()
        raise AlertNotDelivered(f"HTTP {err.code} {err.reason}" + (f" ({body})" if body else "")) from None
    except urllib.error.URLError as err:
        raise AlertNotDelivered(f"no answer ({err.reason})") from None
    except (OSError, http.client.HTTPException) as err:  # a timeout or a broken answer after connecting
        raise AlertNotDelivered(f"no answer ({type(err).__name__}: {err})") from None


class FailureAlert(BaseNotifier):
    """The ``on_failure_callback`` of every task; see the module's docstring.

    No template fields: the message carries the task's error text, which must not pass through Jinja.
    """

    def __init__(
        self,
        *,
        webhook_url: str | None = None,
        email_to: Sequence[str] = (),
        email_from: str | None = None,
        webhook_timeout: float = WEBHOOK_TIMEOUT_SECONDS,
    ) -> None:
        super().__init__()
        self.webhook_url = webhook_url
        self.email_to = tuple(email_to)
        self.email_from = email_from
        self.webhook_timeout = webhook_timeout

    def __repr__(self) -> str:
        # The webhook URL stays out: Airflow prints callbacks in its own log lines.
        webhook = public_address(self.webhook_url) if self.webhook_url else None
        return f"FailureAlert(webhook={webhook!r}, email_to={self.email_to!r})"

    def _channels(self, alert: Message, context: Any) -> dict[str, Callable[[], None]]:
        channels: dict[str, Callable[[], None]] = {}
        if self.webhook_url:
            url = self.webhook_url
            channels[f"webhook {public_address(url)}"] = lambda: post_webhook(url, alert.text, self.webhook_timeout)
        if self.email_to:
            channels[f"e-mail to {', '.join(self.email_to)}"] = lambda: self._send_email(alert, context)
        return channels

    def _send_email(self, alert: Message, context: Any) -> None:
        # Imported here: DAG files import this module at every parse, and only a failure needs SMTP.
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        # A fresh notifier per alert (it fills its own fields in as it sends), called through notify(): its
        # __call__ would render the subject and body as Jinja templates, and the error text is no template.
        email = SmtpNotifier(
            to=list(self.email_to), from_email=self.email_from, subject=alert.subject, html_content=alert.html
        )
        try:
            email.notify(context)
        except Exception as err:
            raise AlertNotDelivered(f"{type(err).__name__}: {err} (connection {email.smtp_conn_id!r})") from err

    def notify(self, context: Any) -> None:
        alert = alert_from_context(context)
        self.send(alert, context, what="failure alert", about=f"{alert.dag_id}.{alert.task_id} ({alert.ds})")

    def send(self, alert: Message, context: Any, *, what: str, about: str) -> None:
        """Sends ``alert`` on every channel, ``what`` and ``about`` naming it in the log (the monitor's alarms go
        out this way too); raises AlertNotDelivered naming each channel that failed."""
        channels = self._channels(alert, context)
        if not channels:
            self.log.warning("No %s sent for %s: set ALERT_WEBHOOK_URL or ALERT_EMAIL_TO to get one", what, about)
            return
        failed = []
        for name, send in channels.items():
            try:
                send()
            except Exception as err:  # noqa: BLE001 - every channel gets its chance; all failures are raised below
                failed.append(f"{name}: {err}")
            else:
                self.log.info("%s sent by %s", what.capitalize(), name)
        if failed:
            raise AlertNotDelivered(f"{what} not delivered by " + "; ".join(failed))


def failure_alert(settings: Settings) -> FailureAlert:
    """The notifier the settings describe (both channels off is allowed: it then only says so at failure)."""
    return FailureAlert(
        webhook_url=settings.alert_webhook_url,
        email_to=settings.alert_email_to,
        email_from=settings.alert_email_from,
    )
