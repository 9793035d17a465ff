"""The app's handle on the model: prepares it in the background (build on first run, then load) and
streams answers. The UI talks to this and to model.engine's Chunk stream only; torch and onnxruntime
are imported by the engine, never by the UI.

Which model answers: --endpoint on the command line, else the choice saved in Settings → Models (a model
server, or a model built on this computer), else the default local model. use() switches without a restart.

The first-run build runs as a child process (`python -m medassist.model build --json-progress`) so its
peak memory goes back to the system before the model is loaded, and its progress shows both in
the terminal and on the page.
"""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Iterator

from medassist.app.config import AppConfig
from medassist.model import chat as chat_format


IDLE_S = 3.0  # the model counts as busy this long after its last use (busy())


@dataclass
class Status:
    state: str = "starting"  # starting | building | loading | ready | error
    stage: str = ""
    fraction: float = 0.0
    message: str = ""


class ModelService:
    def __init__(self, cfg: AppConfig, engine=None, embedder=None):
        self.cfg, self.engine, self._embedder = cfg, engine, embedder
        self._local = engine if engine is not None and engine.info.backend != "remote" else None
        self._local_model = cfg.model
        self.status = Status("ready") if engine else Status()
        self._thread: threading.Thread | None = None
        self._last_used = float("-inf")  # when the model last answered, summarised or judged (busy())

    @property
    def ready(self) -> bool:
        return self.engine is not None

    def start(self) -> "ModelService":
        if not self.ready and self._thread is None:
            self._thread = threading.Thread(target=self._prepare, name="model-prepare", daemon=True)
            self._thread.start()
        return self

    def wait(self, timeout: float | None = None) -> bool:
        if self._thread:
            self._thread.join(timeout)
        return self.ready

    def _prepare(self) -> None:
        try:
            ep = self._configured_endpoint()
            if ep is not None:
                self._connect(ep)
            else:
                self._prepare_local()
        except Exception as e:  # shown on the page; the app keeps running
            self._set("error", "", 0.0, str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__)

    def _configured_endpoint(self):
        """The endpoint to use: --endpoint on the command line, else the one chosen in Settings, else None (a local
        model: the one named on the command line, else the one chosen in Settings, else the default)."""
        from medassist.model.endpoints import LOCAL, Endpoint, Endpoints, key_from, list_models

        if self.cfg.endpoint:
            key = key_from(self.cfg.endpoint_key_file)
            model = self.cfg.model or list_models(self.cfg.endpoint, key)[0]["id"]
            return Endpoint(url=self.cfg.endpoint, model=model, api_key=key, context_length=self.cfg.context_length)
        if self.cfg.model or self.cfg.model_path:
            return None  # a local model named on the command line wins over the saved choice
        eps = Endpoints()
        try:
            active = eps.active
        except ValueError as e:  # a damaged endpoints.json must not keep the local model from starting
            print(f"[model] {e}; using this computer's model", flush=True)
            return None
        if active.startswith(LOCAL):
            self.cfg.model = active.partition(":")[2] or None  # "local:<name>": a model built from the user's file
            return None
        return eps.get(active)

    def _connect(self, ep) -> None:
        """Answer through a model server: asks it for its models (a quick check it is there) and its context."""
        from medassist.model.endpoints import list_models
        from medassist.model.engine.remote import RemoteEngine

        self._set("loading", "connect", 0.0, f"connecting to {ep.host}")
        models = list_models(ep)
        found = next((m for m in models if m["id"] == ep.model), None)
        if found is None:
            names = ", ".join(m["id"] for m in models[:8]) or "none"
            raise ValueError(f"The server at {ep.host} has no model {ep.model!r} (it has: {names})")
        self.engine = RemoteEngine(ep, context_length=found["context_length"])
        self._set("ready", "", 1.0, "")

    def use(self, choice: str) -> None:
        """Switch which model answers, without a restart: a saved endpoint's name, LOCAL (this computer's default
        model) or "local:<name>" (another model built here). Remembered; a local model not loaded yet is
        prepared in the background, a server is connected to now (its error raised for the page to show)."""
        from medassist.model.endpoints import LOCAL, Endpoints

        eps = Endpoints()
        ep = None if choice.startswith(LOCAL) else eps.get(choice)
        eps.use(choice)
        self.cfg.endpoint, self.cfg.model_path = None, None  # the Settings choice now overrides the command line
        self.cfg.model = (choice.partition(":")[2] or None) if ep is None else None
        self.engine, self._thread = None, None
        if ep is not None:
            try:
                self._connect(ep)
            except Exception as e:
                self._set("error", "", 0.0, str(e))
                raise
        elif self._local is not None and self._local_model == self.cfg.model:
            self.engine = self._local
            self._set("ready", "", 1.0, "")
        else:
            self.status = Status()
            self.start()

    def _prepare_local(self) -> None:
        from medassist.model.build import default_build_config, merged_from_other_adapter
        from medassist.model.registry import model_name, resolve_model

        path = self.cfg.model_path
        if not path and not self.cfg.model and self.cfg.backend == "onnx" and self.cfg.build_if_missing \
                and merged_from_other_adapter(default_build_config()):
            path = self._build()  # an update shipped a new adapter: re-merge and rebuild, once
        if not path:
            name = model_name(self.cfg.model) if self.cfg.model else None
            try:
                path = resolve_model(name, self.cfg.precision, self.cfg.backend)
            except FileNotFoundError:
                if not self.cfg.build_if_missing or self.cfg.backend != "onnx":
                    raise
                path = self._build()
        self._set("loading", "load", 0.0, "loading the model")
        from medassist.model.engine import load_engine

        engine = load_engine(path, backend=self.cfg.backend, threads=self.cfg.threads)
        self._set("loading", "load", 0.9, "reading the system prompt")
        # The first question then reads only itself (~1 s less on 2 cores; engine/local.py).
        engine.warm(chat_format.system_prompt(self.cfg.lang))
        self.engine = self._local = engine
        self._local_model = self.cfg.model  # which choice this is, so switching back reuses it
        self._set("ready", "", 1.0, "")

    def _build(self) -> str:
        from medassist.model.build import default_build_config

        args = []
        if self.cfg.model:  # the user named a base to build
            args += ["--base", self.cfg.model]
        else:  # the default: base + the shipped fine-tuned adapter, when the repo has one
            cfg = default_build_config()
            args += ["--base", cfg.base] + (["--adapter", cfg.adapter, "--name", cfg.name] if cfg.adapter else [])
        if self.cfg.precision:
            args += ["--precision", self.cfg.precision]
        self._set("building", "build", 0.0, "preparing the model (first run only)")
        return run_build(args, lambda stage, frac, msg: self._set("building", stage, frac, msg))

    def _set(self, state, stage, fraction, message) -> None:
        self.status = Status(state, stage, fraction, message)
        if message:
            print(f"[model] {state} {stage} {fraction:.0%} {message}", flush=True)

    def stream(self, messages: list[dict], **kw) -> Iterator:
        if not self.ready:
            raise RuntimeError("The model is not ready yet.")
        return self._used(self.engine.stream(messages, **kw))

    def _used(self, stream: Iterator) -> Iterator:
        self._last_used = time.monotonic()
        try:
            yield from stream
        finally:
            self._last_used = time.monotonic()

    def busy(self) -> bool:
        """Whether this computer's model is at work for a user, or was within IDLE_S seconds (a summary's
        fields and checks come one after another): background work (the reference's index) waits meanwhile."""
        if self.engine is None or self.engine is not self._local:  # a server's model does not use these cores
            return False
        lock = getattr(self.engine, "_lock", None)
        return bool(lock is not None and lock.locked()) or time.monotonic() - self._last_used < IDLE_S

    def generate(self, messages: list[dict], **kw):
        if not self.ready:
            raise RuntimeError("The model is not ready yet.")
        return self.engine.generate(messages, **kw)

    def choose(self, messages: list[dict], letters: str, **kw) -> str | None:
        if not self.ready:
            raise RuntimeError("The model is not ready yet.")
        return self.engine.choose(messages, letters, **kw)

    @property
    def can_score(self) -> bool:
        """Whether the model gives next-token scores (a local model does; a server does not)."""
        return self.ready and callable(getattr(self.engine, "letter_scores_many", None))

    def letter_scores_many(self, prompts: list[list[dict]], letters: str, **kw) -> list[list[float]]:
        if not self.ready:
            raise RuntimeError("The model is not ready yet.")
        self._last_used = time.monotonic()
        try:
            return self.engine.letter_scores_many(prompts, letters, **kw)
        finally:
            self._last_used = time.monotonic()

    def prompt_room(self, messages: list[dict], **kw) -> int:
        return self.engine.prompt_room(messages, **kw)

    def embedder(self):
        """The sentence embedder for retrieval, loaded on first use (~2 s)."""
        if self._embedder is None:
            from medassist.model.embed import load_embedder

            self._embedder = load_embedder(self.cfg.embedder)
        return self._embedder

    @property
    def info(self):
        """The answering engine's EngineInfo (name, precision, backend: "remote" for a server)."""
        return self.engine.info

    @property
    def remote_host(self) -> str | None:
        """The server that answers, or None when the model runs on this computer."""
        return self.engine.info.extra.get("host") if self.engine and self.engine.info.backend == "remote" else None

    def describe(self) -> str:
        """The model's label in the header, history, exports and the audit log; a remote one names its server."""
        if not self.engine:
            return ""
        i = self.engine.info
        if self.remote_host:
            return f"{i.name} · remote · {self.remote_host}"
        return f"{i.name} · {i.precision} · {i.backend}"


def run_build(args: list[str], progress) -> str:
    """`medassist-model build ARGS` in a child process (its peak memory goes back to the system when it ends);
    progress(stage, fraction, message) as it goes; returns the built folder or raises with the build's error."""
    cmd = [sys.executable, "-m", "medassist.model", "build", "--json-progress", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tail: list[str] = []
    built = None
    for line in proc.stdout:
        try:
            p = json.loads(line)
        except json.JSONDecodeError:
            tail = (tail + [line.rstrip()])[-5:]
            continue
        if "built" in p:
            built = p["built"]
        else:
            progress(p["stage"], p["fraction"], p["message"])
    if proc.wait() != 0 or not built:
        err = next((t for t in reversed(tail) if t.startswith("error:")), tail[-1] if tail else "unknown error")
        raise RuntimeError(f"Model build failed: {err.removeprefix('error: ')}")
    return built
