"""Model servers the user has configured: any OpenAI-compatible chat server (llama.cpp's llama-server, Ollama,
LM Studio, vLLM, TGI, a hospital gateway, another MedAssist).

    from medassist.model.endpoints import Endpoint, Endpoints, list_models
    ep = Endpoint(url="http://127.0.0.1:8080", model="deepseek-r1-distill-qwen-7b")
    list_models(ep)                       # the server's model ids (the "Test connection" button)
    Endpoints().add(ep); Endpoints().use(ep.name)

Nothing is sent anywhere unless an endpoint is configured here (or with --endpoint). The list lives in the
data folder (endpoints.json, readable by this OS user only, 0600), because an endpoint typed into Settings
may carry an API key; keys are never taken from the command line and never written to a log. On the
command line the key comes from MEDASSIST_ENDPOINT_KEY or from a file (--endpoint-key-file).
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from urllib.parse import urlparse

from medassist.model.paths import data_dir

LOCAL = "local"  # the name of "the model built on this computer" in the active-model setting
KEY_ENV = "MEDASSIST_ENDPOINT_KEY"


def normalize_url(url: str) -> str:
    """'localhost:11434' / 'http://host:8080' / 'http://host:8080/v1/' -> 'http://host:8080/v1'."""
    url = (url or "").strip()
    if not url:
        raise ValueError("Give the server's address, e.g. http://127.0.0.1:8080/v1")
    if "://" not in url:
        url = "http://" + url
    p = urlparse(url)
    if p.scheme not in ("http", "https") or not p.hostname:
        raise ValueError(f"Not a server address: {url!r} (expected http://host:port/v1)")
    path = p.path.rstrip("/")
    if not path.endswith("/v1") and "/v1/" not in path + "/":
        path += "/v1"  # every server named above serves the protocol under /v1
    return f"{p.scheme}://{p.netloc}{path}"


@dataclass
class Endpoint:
    url: str
    model: str
    name: str = ""  # what the header and history show; default "<model> @ <host>"
    api_key: str | None = field(default=None, repr=False)  # never printed
    context_length: int | None = None  # None: what the server says, else a conservative 8,192
    tokenizer: str | None = None  # a folder with tokenizer.json for exact token counts; else an estimate
    timeout_s: float = 300.0  # longest wait for the next piece of a reply
    extra_body: dict = field(default_factory=dict)  # server-specific request fields, e.g. {"repeat_penalty": 1.1}

    def __post_init__(self):
        self.url = normalize_url(self.url)
        if not (self.model or "").strip():
            raise ValueError("Choose which of the server's models to use")
        self.model = self.model.strip()
        self.name = self.name.strip() or f"{self.label} @ {self.host}"

    @property
    def label(self) -> str:
        """The model's name for people: llama.cpp servers name a model by its file path; show the file's name."""
        m = self.model
        return m.replace("\\", "/").rsplit("/", 1)[-1] if m.startswith(("/", "~", ".")) or m.endswith(".gguf") else m

    @property
    def host(self) -> str:
        p = urlparse(self.url)
        return p.netloc

    @property
    def is_loopback(self) -> bool:
        h = urlparse(self.url).hostname or ""
        return h in ("localhost", "::1") or h.startswith("127.")

    def public(self) -> dict:
        """What may be shown or logged: everything but the key."""
        return {k: v for k, v in asdict(self).items() if k != "api_key"} | {"has_key": bool(self.api_key)}


def key_from(file: str | None = None) -> str | None:
    """An API key from a file (first line) or the MEDASSIST_ENDPOINT_KEY environment variable."""
    if file:
        text = Path(file).expanduser().read_text(encoding="utf-8").strip()
        return text.splitlines()[0].strip() if text else None
    return os.environ.get(KEY_ENV) or None


class Endpoints:
    """The saved endpoints and which model answers (LOCAL or an endpoint's name), in endpoints.json."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else data_dir() / "endpoints.json"

    def _read(self) -> dict:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"active": LOCAL, "endpoints": []}
        except (json.JSONDecodeError, OSError) as e:
            raise ValueError(f"{self.path} is damaged ({e}); fix or delete it to start again") from None
        return {"active": raw.get("active", LOCAL), "endpoints": raw.get("endpoints", [])}

    def _write(self, data: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        # Created 0600 before anything is written: the file may hold API keys.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2)
        os.replace(tmp, self.path)

    def all(self) -> list[Endpoint]:
        known = {f.name for f in fields(Endpoint)}
        return [Endpoint(**{k: v for k, v in e.items() if k in known}) for e in self._read()["endpoints"]]

    def get(self, name: str) -> Endpoint:
        for e in self.all():
            if e.name == name:
                return e
        raise KeyError(f"No saved model server called {name!r}")

    def add(self, ep: Endpoint) -> Endpoint:
        data = self._read()
        data["endpoints"] = [e for e in data["endpoints"] if e.get("name") != ep.name] + [asdict(ep)]
        self._write(data)
        return ep

    def remove(self, name: str) -> None:
        data = self._read()
        data["endpoints"] = [e for e in data["endpoints"] if e.get("name") != name]
        if data["active"] == name:
            data["active"] = LOCAL
        self._write(data)

    @property
    def active(self) -> str:
        return self._read()["active"]

    def use(self, name: str) -> None:
        """LOCAL, "local:<built model name>", or a saved endpoint's name."""
        if not name.startswith(LOCAL):
            self.get(name)  # must exist
        data = self._read()
        data["active"] = name
        self._write(data)


def add_flags(ap) -> None:
    """--endpoint / --model / --endpoint-key-file for the command-line tools (the key never on the command line)."""
    ap.add_argument("--endpoint", default=None, help="an OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1 "
                    f"(its API key: {KEY_ENV} or --endpoint-key-file)")
    ap.add_argument("--model", default=None, help="with --endpoint: the server's model (default: its first)")
    ap.add_argument("--endpoint-key-file", default=None, help="a file holding the endpoint's API key")
    ap.add_argument("--context-length", type=int, default=None, help="with --endpoint: the model's context, "
                    "when the server does not say")


def from_args(args) -> Endpoint | None:
    """The Endpoint the command-line flags describe (model: the server's first when not given), or None."""
    if not getattr(args, "endpoint", None):
        return None
    key = key_from(args.endpoint_key_file)
    model = args.model or list_models(args.endpoint, key)[0]["id"]
    return Endpoint(url=args.endpoint, model=model, api_key=key, context_length=args.context_length)


def client(ep: Endpoint, timeout_s: float | None = None):
    """The official OpenAI client for this endpoint: no retries (a refused server is said at once)."""
    import httpx
    from openai import OpenAI

    t = timeout_s or ep.timeout_s
    # "none": servers without auth ignore the header, and the client refuses to start without a key.
    return OpenAI(base_url=ep.url, api_key=ep.api_key or "none", max_retries=0,
                  timeout=httpx.Timeout(t, connect=min(10.0, t)))


def list_models(ep_or_url, api_key: str | None = None, timeout_s: float = 10.0) -> list[dict]:
    """The server's models ([{id, context_length?}]); raises RemoteError with a clear sentence."""
    from medassist.model.engine.remote import remote_error

    ep = ep_or_url if isinstance(ep_or_url, Endpoint) else Endpoint(url=ep_or_url, model="?", api_key=api_key)
    try:
        page = client(ep, timeout_s).models.list()
        out = []
        for m in page.data:
            extra = m.model_extra or {}
            meta = extra.get("meta") or {}
            # vLLM says max_model_len; llama.cpp's server says meta.n_ctx_train; LM Studio max_context_length.
            ctx = extra.get("max_model_len") or extra.get("max_context_length") or extra.get("context_length") \
                or meta.get("n_ctx_train")
            out.append({"id": m.id, "context_length": int(ctx) if ctx else None})
        return out
    except Exception as e:
        raise remote_error(e, ep.host) from None
