"""Choosing the next token from a model's logits: greedy, or temperature + top-k + top-p, with the
repetition penalty. Done here, in numpy, for every local backend (ONNX, PyTorch), so the backends only
run the model and one kept KV state can serve requests with different settings (local.py).

    s = Sampler(temperature=0.6, top_p=0.95, seed=None, penalty=1.15, prompt_ids=ids)
    tok = s.next(logits)      # logits: 1-D float array over the vocabulary
    s.saw([tok])              # the token joined the sequence (the penalty covers it from now on)
"""
from __future__ import annotations

import numpy as np

TOP_K = 50  # as onnxruntime-genai's and transformers' samplers default to


def penalize(logits: np.ndarray, seen, penalty: float) -> np.ndarray:
    """CTRL-style repetition penalty (as transformers and onnxruntime-genai apply it): every token already
    in the sequence gets its logit divided by the penalty when positive, multiplied when negative.
    seen: a boolean mask over the vocabulary, or token ids."""
    if penalty == 1.0:
        return logits
    out = np.array(logits, dtype=np.float32, copy=True)
    vals = out[seen]
    out[seen] = np.where(vals > 0, vals / penalty, vals * penalty)
    return out


def sample(logits: np.ndarray, temperature: float, top_p: float, rng: np.random.Generator,
           top_k: int = TOP_K) -> int:
    if temperature <= 0:
        return int(np.argmax(logits))
    k = min(top_k, logits.size)
    idx = np.argpartition(-logits, k - 1)[:k]
    idx = idx[np.argsort(-logits[idx], kind="stable")]
    vals = logits[idx].astype(np.float64) / temperature
    probs = np.exp(vals - vals[0])
    probs /= probs.sum()
    if top_p < 1.0:
        probs = probs * (np.cumsum(probs) - probs < top_p)  # always keeps the most likely token
        probs /= probs.sum()
    return int(idx[rng.choice(k, p=probs)])


class Sampler:
    """One request's sampling state: its settings, its random stream and the tokens the penalty covers."""

    def __init__(self, *, temperature: float, top_p: float, seed: int | None, penalty: float,
                 prompt_ids: list[int]):
        self.temperature, self.top_p, self.penalty = temperature, top_p, penalty
        self.rng = np.random.default_rng(seed)
        self.seen_ids, self.mask = list(prompt_ids), None  # the prompt counts too (as in both libraries)

    def saw(self, ids: list[int]) -> None:
        if self.mask is None:
            self.seen_ids.extend(ids)
        else:
            self.mask[ids] = True

    def next(self, logits) -> int:
        logits = np.asarray(logits, dtype=np.float32).reshape(-1)
        if self.penalty != 1.0:
            if self.mask is None:  # the vocabulary's size is known once the first logits arrive
                self.mask = np.zeros(logits.size, dtype=bool)
                self.mask[self.seen_ids] = True
            logits = penalize(logits, self.mask, self.penalty)
        return sample(logits, self.temperature, self.top_p, self.rng)
