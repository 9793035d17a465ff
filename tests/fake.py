"""Test doubles: a scripted engine (one token per character, output chosen by the test) and a hashing embedder."""
from __future__ import annotations

import re
import time
import zlib

import numpy as np

from medassist.model.engine.base import EngineInfo, LocalEngine

EOS = 0


class ScriptedSession:
    def __init__(self, script: str, delay: float):
        self.out = [ord(c) for c in script] + [EOS]
        self.forced: list[int] = []
        self.delay = delay
        self.dropped = 0
        self.after_force: str | None = None

    def next(self) -> int:
        time.sleep(self.delay)
        return self.out.pop(0) if self.out else EOS

    def append(self, ids):
        self.forced.extend(ids)
        if self.after_force is not None:
            self.out, self.after_force = [ord(c) for c in self.after_force] + [EOS], None

    def drop_last(self):
        self.dropped += 1

    def logits(self):
        # The scripted reply's first character is the likeliest next token (for Engine.choose).
        out = np.zeros(0x10000, dtype=np.float32)
        if self.out:
            out[self.out[0]] = 1.0
        return out


class ScriptedEngine(LocalEngine):
    """Replies with `script` (a string, or a function of the prompt text); records prompts and forced tokens."""

    def __init__(self, script: str, delay: float = 0.0, after_force: str | None = None):
        super().__init__()
        self.script, self.delay, self.after_force = script, delay, after_force
        self.chat_template = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}<assistant>"
        self.special = {"bos_token": "", "eos_token": ""}
        self.eos_ids = {EOS}
        self.info = EngineInfo("scripted", "fake", "none", "")
        self.sessions: list[ScriptedSession] = []

    def encode(self, text):
        return [ord(c) for c in text]

    def decode(self, ids):
        return "".join(chr(i) for i in ids)

    def start(self, prompt_ids, *, temperature, top_p, max_length, seed, repetition_penalty=1.0):
        self.last_penalty = repetition_penalty
        self.last_prompt = self.decode(prompt_ids)
        self.prompts = getattr(self, "prompts", []) + [self.last_prompt]
        script = self.script(self.last_prompt) if callable(self.script) else self.script
        self.sessions.append(ScriptedSession(script, self.delay))
        self.sessions[-1].after_force = self.after_force
        return self.sessions[-1]


class HashEmbedder:
    """Bag of words hashed into 512 dimensions: texts sharing words are similar; deterministic, instant."""

    def encode(self, texts):
        out = np.zeros((len(texts), 512), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in re.findall(r"[a-z\u4e00-\u9fff]{3,}|\d+", t.lower()):
                out[i, zlib.crc32(w.encode()) % 512] += 1.0
        n = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(n == 0, 1, n)
