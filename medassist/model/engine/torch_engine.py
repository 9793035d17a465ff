"""PyTorch backend: the reference implementation, used for parity checks,
training-time evaluation and the benchmark's bf16 row.

A plain token loop over transformers' KV cache, so forced tokens (the thinking
budget) and cancellation work the same way as in the ONNX backend.

    python -m medassist.model ask "..." --backend torch
"""
from __future__ import annotations

import json
from pathlib import Path

from medassist.model import chat as P
from medassist.model.engine.base import EngineInfo, LocalEngine


def penalize(logits, seen, penalty: float):
    """CTRL-style repetition penalty (as transformers and onnxruntime-genai apply it): every token already
    in the sequence gets its logit divided by the penalty when positive, multiplied when negative."""
    import torch

    if penalty == 1.0 or not seen:
        return logits
    idx = torch.tensor(sorted(seen))
    logits = logits.float().clone()
    vals = logits[idx]
    logits[idx] = torch.where(vals > 0, vals / penalty, vals * penalty)
    return logits


def sample(logits, temperature: float, top_p: float, generator=None, top_k: int = 50) -> int:
    import torch

    if temperature <= 0:
        return int(torch.argmax(logits))
    logits = logits.float() / temperature
    vals, idx = torch.topk(logits, min(top_k, logits.numel()))
    probs = torch.softmax(vals, dim=-1)
    if top_p < 1.0:
        keep = torch.cumsum(probs, dim=-1) - probs < top_p  # always keeps the most likely token
        probs = probs * keep
        probs = probs / probs.sum()
    return int(idx[torch.multinomial(probs, 1, generator=generator)])


class TorchSession:
    def __init__(self, model, prompt_ids, temperature, top_p, seed, repetition_penalty=1.0):
        import torch
        from transformers import DynamicCache

        self.model, self.temperature, self.top_p = model, temperature, top_p
        self.penalty, self.seen = repetition_penalty, set()  # seen: every token in the sequence, prompt included
        self.cache = DynamicCache(config=model.config)
        self.pending = list(prompt_ids)
        self.generator = torch.Generator().manual_seed(seed) if seed is not None else None

    def _feed(self):
        """Run the pending tokens through the model (they join the sequence); the next-token logits."""
        import torch

        with torch.inference_mode():
            out = self.model(input_ids=torch.tensor([self.pending]), past_key_values=self.cache, use_cache=True,
                             logits_to_keep=1)
        self.seen.update(self.pending)
        self.pending = []
        return out.logits[0, -1]

    def next(self) -> int:
        tok = sample(penalize(self._feed(), self.seen, self.penalty), self.temperature, self.top_p, self.generator)
        self.pending = [tok]
        return tok

    def append(self, ids: list[int]) -> None:
        self.pending = self.pending + list(ids)

    def logits(self):
        """Next-token logits after the sequence so far (runs any pending tokens; samples nothing)."""
        return self._feed().float().numpy()

    def drop_last(self) -> None:
        self.pending = self.pending[:-1]  # not yet fed to the model, so nothing to undo in the cache


class TorchEngine(LocalEngine):
    def __init__(self, path: str | Path, *, dtype: str = "bfloat16", threads: int | None = None, name: str | None = None,
                 model=None, tokenizer=None):
        super().__init__()
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if threads:
            torch.set_num_threads(threads)
        self.path = Path(path)
        self.tokenizer = tokenizer or AutoTokenizer.from_pretrained(self.path)
        self.model = model or AutoModelForCausalLM.from_pretrained(self.path, dtype=getattr(torch, dtype))
        self.model.eval()
        self.chat_template = P.load_chat_template(self.path) if (self.path / "tokenizer_config.json").exists() \
            else self.tokenizer.chat_template
        self.special = {"bos_token": self.tokenizer.bos_token or "", "eos_token": self.tokenizer.eos_token or ""}
        self.eos_ids = set(_as_list(self.model.config.eos_token_id))
        gen_cfg = self.path / "generation_config.json"
        if gen_cfg.exists():
            self.eos_ids |= set(_as_list(json.loads(gen_cfg.read_text()).get("eos_token_id")))
        if self.tokenizer.eos_token_id is not None:
            self.eos_ids.add(self.tokenizer.eos_token_id)
        self.info = EngineInfo(name or self.path.name, "torch", dtype, str(self.path))

    @property
    def context_length(self) -> int:
        return int(getattr(self.model.config, "max_position_embeddings", 32768))

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False)

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=False)

    def start(self, prompt_ids, *, temperature, top_p, max_length, seed, repetition_penalty=1.0):
        return TorchSession(self.model, prompt_ids, temperature, top_p, seed, repetition_penalty)


def _as_list(v) -> list[int]:
    if v is None:
        return []
    return list(v) if isinstance(v, (list, tuple)) else [v]
