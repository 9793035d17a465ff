"""A scripted OpenAI-compatible server for tests: replays SSE streams, answers /v1/models, or fails on purpose.

    with ScriptedServer(reply) as srv:       # reply(request_json) -> list of delta dicts | (status, body)
        Endpoint(url=srv.url, model="m")

Deltas are written exactly as servers write them (`data: {json}\\n\\n`, then `data: [DONE]`), so the client's
own SSE parsing runs. A real third-party server is tested in test_remote_llamacpp.py.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DATA = Path(__file__).parent / "data"


def recorded(name: str) -> list[str]:
    """The `data:` payloads of a recorded SSE stream in tests/data/sse/."""
    text = (DATA / "sse" / name).read_text(encoding="utf-8")
    return [line[len("data: "):] for line in text.splitlines() if line.startswith("data: ")]


def deltas(*pieces, model="m", finish="stop", usage=None) -> list[str]:
    """SSE payloads from (field, text) pairs: ("content", "Hi"), ("reasoning_content", "..."), ("reasoning", ...)."""
    out = []
    for i, (key, text) in enumerate(pieces):
        out.append(json.dumps({"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": model,
                               "choices": [{"index": 0, "delta": {key: text} | ({"role": "assistant"} if i == 0 else {}),
                                            "finish_reason": None}]}))
    out.append(json.dumps({"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": model,
                           "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}))
    if usage:
        out.append(json.dumps({"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": model,
                               "choices": [], "usage": usage}))
    return out + ["[DONE]"]


class ScriptedServer:
    def __init__(self, reply, models=("m",), delay: float = 0.0, extra_model_fields: dict | None = None,
                 key: str | None = None):
        self.reply, self.models, self.delay, self.key = reply, models, delay, key
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.closed_early = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _json(self, status, body):
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def refused(self) -> bool:
                if outer.key and self.headers.get("Authorization") != f"Bearer {outer.key}":
                    self._json(401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}})
                    return True
                return False

            def do_GET(self):
                outer.headers.append(dict(self.headers))
                if self.refused():
                    return
                if self.path.rstrip("/") == "/v1/models":
                    return self._json(200, {"object": "list", "data": [
                        {"id": m, "object": "model", "owned_by": "test", **(extra_model_fields or {})} for m in outer.models]})
                self._json(404, {"error": {"message": "not found"}})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                outer.requests.append(body)
                outer.headers.append(dict(self.headers))
                if self.refused():
                    return
                r = outer.reply(body)
                if isinstance(r, tuple):  # (status, error body)
                    return self._json(*r)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    for payload in r:
                        self.wfile.write(f"data: {payload}\n\n".encode())
                        self.wfile.flush()
                        time.sleep(outer.delay)
                except (BrokenPipeError, ConnectionResetError):
                    outer.closed_early.set()
                self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
