"""ONNX backend (default): onnxruntime-genai over a model folder written by
medassist/model/build.py (genai_config.json, model.onnx, tokenizer, chat template).

transformers is not imported here: the chat template is rendered by
medassist/model/chat.py and tokenization is onnxruntime-genai's own, which keeps the
app's memory down.

    medassist-model ask "..."            # uses this backend
"""
from __future__ import annotations

import json
from pathlib import Path

from medassist.model import chat as P
from medassist.model.engine.base import EngineInfo, default_threads
from medassist.model.engine.local import LocalEngine


class OnnxSession:
    """A generator used only to run the model: the engine samples (sampling.py), so one KV state serves
    requests with any settings. Its KV buffer is allocated whole, for `capacity` tokens."""

    def __init__(self, og, model, capacity: int):
        params = og.GeneratorParams(model)
        params.set_search_options(max_length=capacity, do_sample=False, past_present_share_buffer=True)
        self.g, self.capacity, self.tokens = og.Generator(model, params), capacity, []

    def feed(self, ids: list[int]) -> None:
        self.g.append_tokens(list(ids))
        self.tokens.extend(ids)

    def logits(self):
        return self.g.get_logits().reshape(-1)

    def rewind(self, n: int) -> None:
        self.g.rewind_to(n)  # the logits stay those of the old sequence until the next feed
        del self.tokens[n:]


class OnnxEngine(LocalEngine):
    def __init__(self, path: str | Path, *, threads: int | None = None, name: str | None = None,
                 session_options: dict | None = None):
        super().__init__()
        import onnxruntime_genai as og

        self.og, self.path = og, Path(path)
        if not (self.path / "genai_config.json").exists():
            raise FileNotFoundError(f"{self.path} is not an ONNX model folder (no genai_config.json). "
                                    "Build one with: python -m medassist.model build")
        config = og.Config(str(self.path))
        opts = dict(session_options or {})
        # Left unset, onnxruntime-genai ran at about one core's speed here (14 vs 24 tok/s on 2 cores).
        opts["intra_op_num_threads"] = threads or default_threads()
        config.overlay(json.dumps({"model": {"decoder": {"session_options": opts}}}))
        self.model = og.Model(config)
        self.tokenizer = og.Tokenizer(self.model)
        self.genai_config = json.loads((self.path / "genai_config.json").read_text())
        self.chat_template = P.load_chat_template(self.path)
        self.special = P.special_tokens(self.path)
        eos = self.genai_config["model"].get("eos_token_id")
        self.eos_ids = set(eos if isinstance(eos, list) else [eos]) | {int(i) for i in self.tokenizer.eos_token_ids}
        build = self.path / "build.json"
        meta = json.loads(build.read_text()) if build.exists() else {}
        self.info = EngineInfo(name or meta.get("name", self.path.parent.name), "onnx",
                               meta.get("precision", "?"), str(self.path), meta)

    @property
    def context_length(self) -> int:
        return int(self.genai_config["model"].get("context_length", 32768))

    def encode(self, text: str) -> list[int]:
        return [int(i) for i in self.tokenizer.encode(text)]

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids) if ids else ""

    def new_session(self, capacity: int) -> OnnxSession:
        return OnnxSession(self.og, self.model, capacity)
