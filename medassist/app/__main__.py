"""Start MedAssist: medassist [--port 7860] [--no-open-browser] [--language zh|en] [--config app.yaml]

Serves on 127.0.0.1 only, unless --host is given, which then requires --password.
On first run the model is built (progress in this terminal and on the page); the page
is usable as soon as the model is ready.
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
    if cfg.host not in ("127.0.0.1", "localhost", "::1") and not cfg.password:
        sys.exit("error: serving beyond this computer (--host) requires --password")

    from medassist.store.history import History
    from medassist.app.service import ModelService
    from medassist.app.ui import build_ui

    service = ModelService(cfg).start()
    history = History(cfg.history_path)
    demo = build_ui(service, history, cfg)
    demo.queue(default_concurrency_limit=1)
    url = f"http://{'127.0.0.1' if cfg.host in ('127.0.0.1', 'localhost') else cfg.host}:{cfg.port}"
    print(f"MedAssist is starting at {url}  (Ctrl+C to quit)", flush=True)
    if cfg.open_browser:
        webbrowser.open(url)  # the page shows the model's progress until it is ready
    launch(demo, cfg)


def launch(demo, cfg: AppConfig, **extra):
    """Serve the page with the settings a user gets; the browser tests call this too, so they see the same server."""
    from medassist.app.ui import CSS, THEME

    return demo.launch(**{**dict(server_name=cfg.host, server_port=cfg.port, share=False, inbrowser=False,
                                 show_error=False, auth=("medassist", cfg.password) if cfg.password else None,
                                 theme=THEME, css=CSS, footer_links=[], quiet=True,
                                 max_file_size=f"{cfg.max_pdf_mb}mb"), **extra})


if __name__ == "__main__":
    main()
