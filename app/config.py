"""App settings: dataclass defaults -> optional YAML (--config) -> CLI flags (see app/__main__.py).

User data (history, audit log, reference library) lives in MEDASSIST_DATA, default
~/.local/share/medassist (or the platform's equivalent); built models live in
MEDASSIST_HOME (model/paths.py).
"""
from __future__ import annotations

import locale
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from model.thinking import REPETITION_PENALTY, THINKING_BUDGET


def data_dir() -> Path:
    if os.environ.get("MEDASSIST_DATA"):
        return Path(os.environ["MEDASSIST_DATA"]).expanduser()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "MedAssist"
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", Path.home())) / "MedAssist"
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "medassist"


def system_language() -> str:
    lang = os.environ.get("LANG") or (locale.getlocale()[0] or "")
    return "zh" if lang.lower().startswith("zh") else "en"


@dataclass
class AppConfig:
    host: str = "127.0.0.1"  # anything else requires a password
    port: int = 7860
    password: str | None = None  # username "medassist"
    open_browser: bool = True
    language: str | None = None  # zh | en; default from the system locale
    model: str | None = None  # a built model name; default: fine-tuned if built, else the base
    model_path: str | None = None  # a specific ONNX folder (skips the build)
    precision: str | None = None
    backend: str = "onnx"
    threads: int | None = None
    build_if_missing: bool = True
    thinking_budget: int = THINKING_BUDGET  # the measured defaults, model/thinking.py
    max_new_tokens: int = 768
    temperature: float = 0.6
    repetition_penalty: float = REPETITION_PENALTY  # >1 makes tokens already in the conversation less likely; 1 = off
    max_pdf_mb: float = 50  # larger uploads are refused by the server before they are read whole
    max_pdf_pages: int = 100
    pdf_timeout_s: float = 60  # a PDF that takes longer to read is reported as damaged
    embedder: str = "bundled:all-MiniLM-L6-v2"  # retrieval model (model/embed.py); a folder or hub id also works

    @property
    def history_path(self) -> Path:
        return data_dir() / "history.sqlite"

    @property
    def lang(self) -> str:
        return self.language or system_language()
