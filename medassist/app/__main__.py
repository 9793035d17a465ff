"""Start MedAssist: medassist [--port 7860] [--no-open-browser] [--language zh|en] [--config app.yaml]

    medassist --endpoint http://127.0.0.1:8080/v1 --model NAME   # answer through a model server (key:
                                                                 # MEDASSIST_ENDPOINT_KEY or --endpoint-key-file)
    medassist --api-only --host 0.0.0.0                         # the OpenAI-compatible API alone (needs
                                                                 # MEDASSIST_API_KEY or --api-key-file)

Serves on 127.0.0.1 only, unless --host is given, which then requires a password for the page
(MEDASSIST_PASSWORD or --password-file; never on the command line) and an API key for /v1; --certfile and
--keyfile serve it over HTTPS. On first run the model is built (progress in this terminal and on the page); the
page is usable as soon as the model is ready.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import webbrowser

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# MedAssist's own upload cache (not the /tmp/gradio every Gradio app shares), so that deleting it deletes ours only
os.environ.setdefault("GRADIO_TEMP_DIR", os.path.join(tempfile.gettempdir(),
                                                      f"medassist-uploads-{getattr(os, 'getuid', lambda: 0)()}"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # bundled models need no hub; users opt in with HF_HUB_OFFLINE=0
os.environ.setdefault("TRANSFORMERS_OFFLINE", os.environ["HF_HUB_OFFLINE"])

from medassist.app.config import AppConfig  # noqa: E402
from medassist.model.config import add_flags, resolve  # noqa: E402


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["users"]:  # medassist users add|remove|list (store/users.py)
        from medassist.store.users import main as users_main

        return users_main(argv[1:])
    # allow_abbrev=False: "--password X" must not be taken as "--password-file X"
    ap = argparse.ArgumentParser(prog="medassist", description="MedAssist: a local medical AI assistant.",
                                 allow_abbrev=False)
    ap.add_argument("--config", help="YAML file with app settings")
    add_flags(ap, AppConfig)
    args = ap.parse_args(argv)
    cfg = resolve(AppConfig, args.config, vars(args))
    os.umask(0o077)  # the data folder, databases, logs and downloads are private to this OS user
    loopback = cfg.host in ("127.0.0.1", "localhost", "::1")
    from medassist.model.endpoints import key_from

    try:
        cfg.password = key_from(cfg.password_file) if cfg.password_file else os.environ.get("MEDASSIST_PASSWORD") or None
    except OSError as e:
        sys.exit(f"error: cannot read the password file: {e}")
    from medassist.model.paths import data_dir
    from medassist.store.users import Users

    users = Users(data_dir() / "users.json")
    try:
        accounts = users.any()  # with accounts, every page needs a login (also on 127.0.0.1)
    except RuntimeError as e:
        sys.exit(f"error: {e}")
    if not loopback and not cfg.password and not accounts and not cfg.api_only:
        sys.exit("error: serving beyond this computer (--host) requires a password: set MEDASSIST_PASSWORD "
                 "or --password-file, or add accounts with `medassist users add NAME`")
    if bool(cfg.certfile) != bool(cfg.keyfile):
        sys.exit("error: TLS needs both --certfile and --keyfile")

    try:
        api_key = key_from(cfg.api_key_file) if cfg.api_key_file else os.environ.get("MEDASSIST_API_KEY") or None
    except OSError as e:
        sys.exit(f"error: cannot read the API key file: {e}")
    if cfg.api_only and not loopback and not api_key:
        sys.exit("error: an API served beyond this computer (--host) needs a key: set MEDASSIST_API_KEY "
                 "or --api-key-file")

    from medassist.store.history import History
    from medassist.app.service import ModelService

    service = ModelService(cfg).start()
    from medassist.app.accounts import account_of

    history = History(cfg.history_path, user=account_of(users))
    url = f"http{'s' if cfg.certfile else ''}://{'127.0.0.1' if loopback else cfg.host}:{cfg.port}"
    if cfg.api_only:
        print(f"MedAssist API at {url}/v1  (Ctrl+C to quit)", flush=True)
        serve_api(service, history, cfg, api_key)
        return
    from medassist.app.ui import build_ui

    demo = build_ui(service, history, cfg, users, reference=start_reference(service) if cfg.sources else None)
    demo.queue(default_concurrency_limit=1, max_size=64)  # a flood of requests waits in a bounded line
    print(f"MedAssist is starting at {url}  (API: {url}/v1; Ctrl+C to quit)", flush=True)
    if cfg.open_browser:
        webbrowser.open(url)  # the page shows the model's progress until it is ready
    launch(demo, cfg, api=api_router(service, history, cfg, api_key), **({"auth": users.verify} if accounts else {}))


def start_reference(service):
    """The bundled reference's index: opened if built before, else built in the background once the model is
    ready (the first start's model build needs the memory and the cores more). None when it is not installed."""
    import threading

    from medassist.model.paths import data_dir
    from medassist.papers.reference import Reference

    reference = Reference(data_dir() / "reference", service.embedder)
    if not reference.available:
        return None
    if reference.open() and reference.state == "ready":
        return reference

    def build():
        service.wait()
        try:
            reference.build(busy=service.busy)  # the user's questions and summaries first
        except Exception as e:  # Q&A answers without the reference, and the log says why
            print(f"[reference] could not be indexed: {e}", flush=True)

    threading.Thread(target=build, name="reference-index", daemon=True).start()
    return reference


def api_router(service, history, cfg: AppConfig, api_key: str | None):
    from medassist.app.api import router

    return router(service, history, cfg, api_key)


def serve_api(service, history, cfg: AppConfig, api_key: str | None) -> None:
    """--api-only: the /v1 routes on their own, no page (uvicorn, as Gradio itself uses)."""
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI(title="MedAssist API", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(api_router(service, history, cfg, api_key))
    uvicorn.run(app, host=cfg.host, port=cfg.port, log_level="warning")


def launch(demo, cfg: AppConfig, api=None, **extra):
    """Serve the page with the settings a user gets; the browser tests call this too, so they see the same server.
    api: the /v1 router, registered on Gradio's own app before Gradio's routes, so both share the one port."""
    from medassist.app.ui import CSS, THEME

    from gradio.routes import App

    app = App(auth_dependency=None)
    # Host-header allow-list (DNS rebinding: a web page on another site resolving its name to 127.0.0.1 must
    # not reach this server), and no fetching of remote URLs through Gradio's file route.
    app.add_middleware(HostGuard, allowed=allowed_hosts(cfg))
    app.add_middleware(PageScript)
    if api is not None:
        app.include_router(api)
    extra["_app"] = app
    return demo.launch(**{**dict(server_name=cfg.host, server_port=cfg.port, share=False, inbrowser=False,
                                 show_error=False, auth=("medassist", cfg.password) if cfg.password else None,
                                 theme=THEME, css=CSS, footer_links=[], quiet=True,
                                 ssl_certfile=cfg.certfile, ssl_keyfile=cfg.keyfile,
                                 max_file_size=f"{cfg.max_pdf_mb}mb"), **extra})


def allowed_hosts(cfg: AppConfig) -> set[str]:
    names = {"127.0.0.1", "localhost", "::1", "[::1]", cfg.host}
    if cfg.host in ("0.0.0.0", "::"):  # every interface: the machine's own names and every address it has
        import socket

        import psutil

        names |= {socket.gethostname(), socket.getfqdn()}
        for addrs in psutil.net_if_addrs().values():
            for a in addrs:
                if a.family in (socket.AF_INET, socket.AF_INET6):
                    ip = a.address.split("%")[0]
                    names |= {ip, f"[{ip}]"} if ":" in ip else {ip}
    names |= {h.strip() for h in (cfg.allowed_hosts or "").split(",") if h.strip()}
    return {n.lower() for n in names}


# Gradio's named-call route (what its client libraries use) runs a handler by name whatever its api_visibility;
# the page itself uses the queue and /run/predict by index. MedAssist's API is /v1.
PUBLIC_CALLS = re.compile(r"^/(?:gradio_api/)?call/")


class HostGuard:
    """ASGI middleware: 400 for a Host header this server does not answer to, 403 for Gradio's file route asked
    to fetch a remote URL (file=http…) and for its named-call API."""

    def __init__(self, app, allowed: set[str]):
        self.app, self.allowed = app, allowed

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            headers = dict(scope.get("headers") or [])
            host = headers.get(b"host", b"").decode("latin-1").lower()
            name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
            path = scope.get("path", "")
            status = 400 if name not in self.allowed else 403 if "/file=http" in path or "/file=//" in path or \
                PUBLIC_CALLS.search(path) else 0
            if status:
                if scope["type"] == "http":
                    await send({"type": "http.response.start", "status": status,
                                "headers": [(b"content-type", b"text/plain")]})
                    await send({"type": "http.response.body", "body": b"Refused by MedAssist."})
                else:
                    await send({"type": "websocket.close", "code": 1008})
                return
        await self.app(scope, receive, send)


# Gradio's status tracker runs a requestAnimationFrame loop for its elapsed-time label while an event is pending,
# even where the label is hidden, and (Gradio 6.31) one is left running after each answer: the page asked for ~60
# frames a second while streaming and ever after, frames that compete with the model for 2 cores (side by side,
# page vs engine tokens/s: 0.95x as Gradio serves it, 1.05x capped; browser CPU -27%: docs/benchmarks.md). The
# label shows tenths of a second, so that loop is delayed to ~10 frames a second; every other animation keeps
# the browser's rate. The tracker keeps its own reference to requestAnimationFrame from when its module loads, so
# this must run before any module script: it goes at the top of the served page's <head> (Gradio's head= runs
# too late). tests/test_browser.py counts the frames while an answer streams and after it, so a Gradio whose
# loop no longer matches fails there.
FRAME_CAP = b"""<script>(() => {
  const raf = window.requestAnimationFrame.bind(window);
  const timer = /performance\\.now\\(\\)\\s*-.*\\/\\s*1e3/;
  window.requestAnimationFrame = (cb) => timer.test(String(cb)) ? setTimeout(() => raf(cb), 100) : raf(cb);
})();</script>"""


class PageScript:
    """ASGI middleware: FRAME_CAP at the top of the page's <head> (GET / only; assets and the API pass through)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "GET" or scope.get("path") not in ("/", ""):
            return await self.app(scope, receive, send)
        start, body = None, []

        async def patched(message):
            nonlocal start
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers") or [])
                if b"text/html" in headers.get(b"content-type", b"") and b"content-encoding" not in headers:
                    start = message  # held until the whole body is here: its length changes
                    return
            elif message["type"] == "http.response.body" and start is not None:
                body.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                page = b"".join(body).replace(b"<head>", b"<head>" + FRAME_CAP, 1)
                headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
                await send({**start, "headers": headers + [(b"content-length", str(len(page)).encode())]})
                return await send({"type": "http.response.body", "body": page})
            await send(message)

        await self.app(scope, receive, patched)


if __name__ == "__main__":
    main()
