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
