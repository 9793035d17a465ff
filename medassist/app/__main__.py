"""Start MedAssist: medassist [--port 7860] [--no-open-browser] [--language zh|en] [--config app.yaml]

    medassist --endpoint http://127.0.0.1:8080/v1 --model NAME   # answer through a model server (key:
                                                                 # MEDASSIST_ENDPOINT_KEY or --endpoint-key-file)
    medassist --api-only --host 0.0.0.0                         # the OpenAI-compatible API alone (needs
                                                                 # MEDASSIST_API_KEY or --api-key-file)

Serves on 127.0.0.1 only, unless --host is given, which then requires --password (the page) and an API
key (the API, /v1). On first run the model is built (progress in this terminal and on the page); the
page is usable as soon as the model is ready.
"""
from __future__ import annotations

import argparse
import os
import sys
import webbrowser

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # bundled models need no hub; users opt in with HF_HUB_OFFLINE=0
os.environ.setdefault("TRANSFORMERS_OFFLINE", os.environ["HF_HUB_OFFLINE"])

from medassist.app.config import AppConfig  # noqa: E402
from medassist.model.config import add_flags, resolve  # noqa: E402


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="medassist", description="MedAssist: a local medical AI assistant.")
    ap.add_argument("--config", help="YAML file with app settings")
    add_flags(ap, AppConfig)
    args = ap.parse_args(argv)
    cfg = resolve(AppConfig, args.config, vars(args))
    loopback = cfg.host in ("127.0.0.1", "localhost", "::1")
    if not loopback and not cfg.password and not cfg.api_only:
        sys.exit("error: serving beyond this computer (--host) requires --password")
    from medassist.model.endpoints import key_from

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
    history = History(cfg.history_path)
    url = f"http://{'127.0.0.1' if loopback else cfg.host}:{cfg.port}"
    if cfg.api_only:
        print(f"MedAssist API at {url}/v1  (Ctrl+C to quit)", flush=True)
        serve_api(service, history, cfg, api_key)
        return
    from medassist.app.ui import build_ui

    demo = build_ui(service, history, cfg)
    demo.queue(default_concurrency_limit=1)
    print(f"MedAssist is starting at {url}  (API: {url}/v1; Ctrl+C to quit)", flush=True)
    if cfg.open_browser:
        webbrowser.open(url)  # the page shows the model's progress until it is ready
    launch(demo, cfg, api=api_router(service, history, cfg, api_key))


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

    if api is not None:
        from gradio.routes import App

        app = App(auth_dependency=None)
        app.include_router(api)
        extra["_app"] = app
    return demo.launch(**{**dict(server_name=cfg.host, server_port=cfg.port, share=False, inbrowser=False,
                                 show_error=False, auth=("medassist", cfg.password) if cfg.password else None,
                                 theme=THEME, css=CSS, footer_links=[], quiet=True,
                                 max_file_size=f"{cfg.max_pdf_mb}mb"), **extra})


if __name__ == "__main__":
    main()
