"""Offer a file to the browser from a handler: the gr.File/DownloadButton update, or one clear
sentence when it cannot be written (a full or read-only disk), never a stack trace. The file itself is
written by medassist.store.exports (a private temp file Gradio may serve).

    return offer(lambda: history.downloads.write("outline.md", text), lang)
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import gradio as gr

from medassist.app.i18n import t


def offer(write: Callable[[], Path], lang: str) -> dict:
    try:
        return gr.update(value=str(write()), visible=True)
    except Exception as e:  # the result stays on screen; only its download is missing
        gr.Warning(t("download_failed", lang, msg=str(e) or type(e).__name__))
        return gr.update(visible=False)


def upload_cache() -> Path:
    """Where Gradio keeps what the browser uploads (GRADIO_TEMP_DIR, else <tmp>/gradio)."""
    import os
    import tempfile

    return Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio").resolve()


def forget_upload(path) -> None:
    """Delete an uploaded file from Gradio's cache once it has been read: the paper lives on only as the
    redacted rows MedAssist keeps. A path outside the cache (a test's, the CLI's) is never touched."""
    try:
        p = Path(path).resolve()
        if upload_cache() in p.parents:
            p.unlink(missing_ok=True)
    except (OSError, TypeError, ValueError):
        pass  # best effort: Blocks(delete_cache=…) removes what is left within the hour


def clear_upload_cache() -> None:
    """Every file in Gradio's upload cache ("Delete all my data" on a one-person install). With accounts the
    files cannot be told apart by owner: reading deletes each upload, and Blocks(delete_cache=…) the rest."""
    import shutil

    cache = upload_cache()
    if "medassist" not in cache.name:  # the cache every Gradio app on this machine shares: not ours to empty
        return
    if cache.is_dir():
        for child in cache.iterdir():
            if child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
