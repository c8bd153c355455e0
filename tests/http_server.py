"""A local HTTP server serving one small model file, and a registry pointing at it.

Shared by the store, fetch-job and models-dialog tests. `tests/` is on sys.path because the
root conftest lives there (pytest's default "prepend" import mode), so tests `import http_server`.
"""

from __future__ import annotations

import hashlib
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from editor.engine.store import ModelFile, ModelInfo

FILE_NAME = "tiny/tiny.bin"
DATA = os.urandom(300_000)  # several 64 KiB chunks, so progress and a half-way drop are real
DATA_SHA = hashlib.sha256(DATA).hexdigest()
DATA_SIZE = len(DATA)


class FakeServer:
    """Serves DATA at /tiny.bin; `mode` makes it misbehave; `requests` records what it saw.

    A request is recorded, with the byte count the server is about to send, before its body
    goes out, so a client that has read everything always finds its request noted.

    Modes: ok | drop (half, then close) | wrong (bad bytes) | no-range (ignore Range) |
    gate (half, then wait for `gate` to be set before the rest: a download caught mid-way).
    """

    def __init__(self) -> None:
        self.mode = "ok"
        self.requests: list[dict] = []
        self.gate = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                body = DATA if server.mode != "wrong" else bytes(b ^ 0xFF for b in DATA)
                header = self.headers.get("Range")
                start = 0
                if header and server.mode != "no-range":
                    start = int(header.removeprefix("bytes=").split("-")[0])
                if start >= len(body):
                    self.send_response(416)
                    self.end_headers()
                    server.requests.append({"range": header, "sent": 0, "status": 416})
                    return
                rest = body[start:]
                status = 206 if start else 200
                sent = rest[: len(rest) // 2] if server.mode in ("drop", "gate") else rest
                # Noted before the body goes out: a client may finish reading before we return.
                entry = {"range": header, "sent": len(sent), "status": status}
                server.requests.append(entry)
                self.send_response(status)
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                self.send_header("Content-Length", str(len(rest)))
                self.end_headers()
                self.wfile.write(sent)
                self.wfile.flush()
                if server.mode == "gate":
                    server.gate.wait(10)
                    entry["sent"] = len(rest)
                    try:
                        self.wfile.write(rest[len(sent) :])
                    except OSError:  # the client hung up: it was cancelled
                        pass

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/tiny.bin"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.gate.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def tiny_registry(
    url: str | None,
    sha256: str | None = DATA_SHA,
    prefix: str | None = None,
    size: int | None = DATA_SIZE,
) -> dict[str, ModelInfo]:
    """A one-model registry: 'tiny', one file FILE_NAME, downloadable from `url`."""
    f = ModelFile(name=FILE_NAME, url=url, sha256=sha256, sha256_prefix=prefix, size=size)
    info = ModelInfo(
        id="tiny",
        title="Tiny test model",
        kind="test",
        files=(f,),
        licence="CC0",
        source="tests",
        input={},
    )
    return {"tiny": info}
