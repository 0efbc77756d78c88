"""Where the center's status notices go in tests: a real HTTP SMS gateway and a real SMTP server, both local."""

from __future__ import annotations

import json
import socket
import threading
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmsGateway:
    """Records every SMS posted to it; the first try of every 'resolved' notice fails with 503 (a retry test)."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.refused: list[str] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                ref = body.get("ref", "")
                if ":resolved:" in ref and ref not in gateway.refused:
                    gateway.refused.append(ref)
                    self.send_response(503)
                    self.end_headers()
                    return
                gateway.messages.append({**body, "idempotency_key": self.headers.get("Idempotency-Key")})
                out = json.dumps({"message_id": f"sms-{len(gateway.messages)}"}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms/send"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def for_ref(self, complaint_id: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["ref"].startswith(complaint_id)]

    def stop(self) -> None:
        self.server.shutdown()


class MailSink:
    def __init__(self) -> None:
        self.messages: list[Any] = []
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's naming
                sink.messages.append(message_from_bytes(envelope.content, policy=policy.default))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def for_case(self, complaint_id: str) -> list[Any]:
        return [m for m in self.messages if m.get("X-Complaint-Id") == complaint_id]

    def stop(self) -> None:
        self.controller.stop()
