"""The alert receivers of the end-to-end test, run in a container on the stack's network (stack.test.ts starts it
from the Airflow image, which has aiosmtpd): a webhook receiver on port 8080 (http.server) and an SMTP server on
port 8025 (aiosmtpd) that requires the login in SINK_SMTP_LOGIN / SINK_SMTP_PASSWORD.

Everything received is printed on stdout as one JSON line, which the test reads with `docker logs`; the first
line, {"ready": true}, says both servers listen.
"""

import email
import email.policy
import json
import os
import threading
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

LOGIN = os.environ["SINK_SMTP_LOGIN"].encode()
PASSWORD = os.environ["SINK_SMTP_PASSWORD"].encode()
_print_lock = threading.Lock()


def emit(record: dict) -> None:
    with _print_lock:
        print(json.dumps(record), flush=True)


class Webhook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            payload = json.loads(body)
        except ValueError:
            payload = body.decode("utf-8", "replace")
        content_type = self.headers.get("Content-Type")
        emit({"channel": "webhook", "path": self.path, "content_type": content_type, "body": payload})
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's name
        pass  # stdout carries only what was received


class Mail:
    async def handle_DATA(self, server, session, envelope) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        emit(
            {
                "channel": "email",
                "login": session.auth_data.login.decode() if session.authenticated else None,
                "from": envelope.mail_from,
                "to": list(envelope.rcpt_tos),
                "subject": message["Subject"],
                "html": message.get_body(("html",)).get_content(),
            }
        )
        return "250 OK"


def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    return AuthResult(success=auth_data.login == LOGIN and auth_data.password == PASSWORD, auth_data=auth_data)


def main() -> None:
    # Plain SMTP with a login is what this sink is for: it checks that the connection's credentials are used.
    warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
    smtp = Controller(
        Mail(),
        hostname="0.0.0.0",
        port=8025,
        authenticator=authenticate,
        auth_required=True,
        auth_require_tls=False,
    )
    smtp.start()
    webhook = ThreadingHTTPServer(("0.0.0.0", 8080), Webhook)
    emit({"ready": True})
    webhook.serve_forever()


if __name__ == "__main__":
    main()
