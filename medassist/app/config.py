"""App settings: dataclass defaults -> optional YAML (--config) -> CLI flags (see medassist/app/__main__.py).

User data (history, audit log, reference library) lives in MEDASSIST_DATA, default
~/.local/share/medassist (or the platform's equivalent); built models live in
MEDASSIST_HOME (medassist/model/paths.py).
"""
from __future__ import annotations

import locale
import os
from dataclasses import dataclass, field
from pathlib import Path

from medassist.model.paths import data_dir
from medassist.model.defaults import QA


def system_language() -> str:
    lang = os.environ.get("LANG") or (locale.getlocale()[0] or "")
    return "zh" if lang.lower().startswith("zh") else "en"


@dataclass
class AppConfig:
    host: str = "127.0.0.1"  # anything else requires a password
    port: int = 7860
    # The page's password (username "medassist") for --host: MEDASSIST_PASSWORD, or this file (never argv:
    # every user of the machine can read a command line).
    password_file: str | None = None
    certfile: str | None = None  # TLS for --host: the certificate (PEM) and its key, passed to the server
    keyfile: str | None = None
    allowed_hosts: str | None = None  # extra Host header names accepted besides --host and loopback (comma list)
    open_browser: bool = True
    language: str | None = None  # zh | en; default from the system locale
    model: str | None = None  # a built model name (default: fine-tuned if built, else the base); with --endpoint, the server's model
    endpoint: str | None = None  # an OpenAI-compatible server (http://host:port/v1); its key: MEDASSIST_ENDPOINT_KEY
    endpoint_key_file: str | None = None  # or a file holding that key (never the key itself on the command line)
    context_length: int | None = None  # the endpoint model's context, when the server does not say
    model_path: str | None = None  # a specific ONNX folder (skips the build)
    precision: str | None = None
    backend: str = "onnx"
    threads: int | None = None
    build_if_missing: bool = True
    thinking_budget: int = QA.thinking_budget  # the measured defaults, medassist/model/defaults.py
    max_new_tokens: int = QA.max_new_tokens
    temperature: float = QA.temperature
    repetition_penalty: float = QA.repetition_penalty  # >1 makes tokens already in the conversation less likely; 1 = off
    # Seconds between page updates while an answer streams: each update re-renders the chat in the browser,
    # which shares the CPU with the model. 0.2 s (5 a second) took the browser from ~11 to ~8 CPU-seconds per
    # answer against 0.05 s (benchmarks/page_latency.py); the first token is always shown at once.
    stream_interval_s: float = 0.2
    api_only: bool = False  # serve only the OpenAI-compatible API (/v1), no page: a department server
    api_key_file: str | None = None  # the key API clients must send when --host is set (or MEDASSIST_API_KEY)
    max_pdf_mb: float = 50  # larger uploads are refused by the server before they are read whole
    max_pdf_pages: int = 100
    pdf_timeout_s: float = 60  # a PDF that takes longer to read is reported as damaged
    # Q&A answers from passages of the bundled NIH reference and the user's papers, cited [1], [2]: the page's
    # Sources switch starts on, and the reference is indexed on first start (benchmarks/qa_sources.py). With
    # --no-sources the switch starts off and this run neither indexes nor searches the reference (papers only).
    sources: bool = True
    embedder: str = "bundled:all-MiniLM-L6-v2"  # retrieval model (model/embed.py); a folder or hub id also works

    # Set from MEDASSIST_PASSWORD or password_file at start; no --password flag (metadata), never in YAML either.
    password: str | None = field(default=None, metadata={"flag": False})

    @property
    def history_path(self) -> Path:
        return data_dir() / "history.sqlite"

    @property
    def lang(self) -> str:
        return self.language or system_language()
