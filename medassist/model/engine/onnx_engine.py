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
from medassist.model.engine.base import EngineInfo, LocalEngine, default_threads


class OnnxSession:
    def __init__(self, og, model, prompt_ids, temperature, top_p, max_length, seed, repetition_penalty=1.0):
        params = og.GeneratorParams(model)
        opts = dict(max_length=max_length, do_sample=temperature > 0, past_present_share_buffer=True,
                    repetition_penalty=repetition_penalty)
        if temperature > 0:
            opts.update(temperature=temperature, top_p=top_p, top_k=50)
        if seed is not None:
            opts["random_seed"] = seed
        params.set_search_options(**opts)
        self.g = og.Generator(model, params)
        self.g.append_tokens(list(prompt_ids))

    def next(self) -> int:
        self.g.generate_next_token()
        return int(self.g.get_next_tokens()[0])

    def append(self, ids: list[int]) -> None:
        self.g.append_tokens(list(ids))

    def drop_last(self) -> None:
        self.g.rewind_to(self.g.token_count() - 1)

    def logits(self):
        """Next-token logits after the sequence so far (append_tokens already ran the prompt)."""
        return self.g.get_logits().reshape(-1)


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

    def start(self, prompt_ids, *, temperature, top_p, max_length, seed, repetition_penalty=1.0):
        return OnnxSession(self.og, self.model, prompt_ids, temperature, top_p, max_length, seed, repetition_penalty)
