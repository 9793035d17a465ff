"""Test doubles: a scripted engine (one token per character, output chosen by the test) and a hashing embedder."""
from __future__ import annotations

import re
import time
import zlib

import numpy as np

from medassist.model.engine.base import EngineInfo
from medassist.model.engine.local import LocalEngine

EOS = 0


class ScriptedSession:
    """A KV state whose logits spell out a script: the first feed is the prompt (the script may depend on
    it); the scripted character the engine chose is consumed when fed back; anything else fed is forced."""

    def __init__(self, engine: "ScriptedEngine", capacity: int):
        self.engine, self.capacity, self.tokens = engine, capacity, []
        self.out: list[int] | None = None
        self.forced: list[int] = []
        self.after_force = engine.after_force

    def feed(self, ids):
        ids = list(ids)
        if self.out is None:
            self.out = [ord(c) for c in self.engine.prompted(self.engine.decode(ids))]
        else:
            if ids and self.out and ids[0] == self.out[0]:
                self.out.pop(0)
                ids_forced = ids[1:]
            else:
                ids_forced = ids
            if ids_forced:
                self.forced.extend(ids_forced)
                if self.after_force is not None:
                    self.out, self.after_force = [ord(c) for c in self.after_force], None
        self.tokens.extend(ids)

    def logits(self):
        # The scripted next character is the only likely token (end of text when the script is spent).
        time.sleep(self.engine.delay)
        out = np.full(0x10000, -1e9, dtype=np.float32)
        out[self.out[0] if self.out else EOS] = 0.0
        return out

    def rewind(self, n):
        del self.tokens[n:]


class ScriptedEngine(LocalEngine):
    """Replies with `script` (a string, or a function of the prompt text); records prompts, settings and forced
    tokens. Every request gets a new session (the script is chosen from its prompt)."""
    reuse_kv = False

    def __init__(self, script: str, delay: float = 0.0, after_force: str | None = None, judge=None):
        super().__init__()
        self.script, self.delay, self.after_force = script, delay, after_force
        # judge: (passage, statement) -> margin, the claim-level support check's scores (papers/support.py);
        # None: no letter scores for it, as with a server's model (the checks fall back to similarity).
        self.judge = judge
        if judge is None:
            self.letter_scores_many = None
        self.chat_template = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}<assistant>"
        self.special = {"bos_token": "", "eos_token": ""}
        self.eos_ids = {EOS}
        self.info = EngineInfo("scripted", "fake", "none", "")
        self.sessions: list[ScriptedSession] = []
        self.prompts: list[str] = []

    def letter_scores_many(self, prompts, letters, *, system=None):
        out = []
        for messages in prompts:
            passage, statement = re.search(r"<passage>\n(.*)\n</passage>\n\nStatement: (.*)$",
                                           messages[-1]["content"], re.S).groups()
            self.prompts.append(messages[-1]["content"])
            out.append([self.judge(passage, statement), 0.0])
        return out

    def encode(self, text):
        return [ord(c) for c in text]

    def decode(self, ids):
        return "".join(chr(i) for i in ids)

    def new_session(self, capacity):
        self.sessions.append(ScriptedSession(self, capacity))
        return self.sessions[-1]

    def prompted(self, prompt: str) -> str:
        self.last_prompt = prompt
        self.prompts.append(prompt)
        return self.script(prompt) if callable(self.script) else self.script

    def _stream(self, messages, max_new_tokens, temperature, top_p, thinking_budget, stop, system, seed, cancel,
                loop_guard, repetition_penalty):
        self.last_penalty = repetition_penalty
        yield from super()._stream(messages, max_new_tokens, temperature, top_p, thinking_budget, stop, system, seed,
                                   cancel, loop_guard, repetition_penalty)


class HashEmbedder:
    """Bag of words hashed into 512 dimensions: texts sharing words are similar; deterministic, instant."""

    def encode(self, texts):
        out = np.zeros((len(texts), 512), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in re.findall(r"[a-z\u4e00-\u9fff]{3,}|\d+", t.lower()):
                out[i, zlib.crc32(w.encode()) % 512] += 1.0
        n = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(n == 0, 1, n)
