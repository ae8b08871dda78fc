"""A webhook receiver on 127.0.0.1 for the Graph emulator's validation handshake and notifications."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Receiver:
    """A webhook on 127.0.0.1: ``mode`` "echo" answers validations right, "wrong" answers garbage."""

    url: str
    mode: str = "echo"
    received: list[Any] = field(default_factory=list)
    validations: list[str] = field(default_factory=list)

    def wait_for(self, predicate: Callable[[Any], bool], timeout: float = 5.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for body in list(self.received):
                if predicate(body):
                    return body
            time.sleep(0.01)
        raise AssertionError(f"no matching notification within {timeout}s; got {self.received}")


@contextmanager
def serve_receiver() -> Iterator[Receiver]:
    box: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            hook = box[0]
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            token = parse_qs(urlsplit(self.path).query).get("validationToken")
            if token:
                hook.validations.append(token[0])
                answer = token[0] if hook.mode == "echo" else "nope"
                payload = answer.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
            else:
                hook.received.append(json.loads(body))
                payload = b""
                self.send_response(202)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.append(Receiver(f"http://127.0.0.1:{server.server_address[1]}/hook"))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    yield box[0]
    server.shutdown()
    server.server_close()
