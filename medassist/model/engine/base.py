"""The engine: the one seam between the UI and a model.

    for chunk in engine.stream(messages, max_new_tokens=512, thinking_budget=512):
        print(chunk.phase, chunk.text)

stream() is the primitive; generate() just joins it. Engine (here) is what the app
sees; LocalEngine (local.py) runs a model in this process, where a backend (ONNX,
PyTorch) only supplies tokenization and a KV state that runs tokens and gives
logits; RemoteEngine (remote.py) asks a server. The pieces every engine shares live
here: the chunk, the incremental decoder, the stop-string filter.

Budgets: thinking_budget caps reasoning tokens (then "</think>" is forced),
max_new_tokens caps answer tokens. loop_guard closes the reasoning early when it
repeats itself; repetition_penalty (>1) makes every token already in the sequence
less likely. Every chunk after the think block says what closed it (think_end).
"""
from __future__ import annotations

import os
import re
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Iterator

from medassist.model.defaults import QA
from medassist.model.thinking import THINKING, partial_suffix


@dataclass
class Chunk:
    text: str
    phase: str  # "thinking" | "answer"
    prompt_tokens: int = 0
    generated_tokens: int = 0
    tokens_per_s: float = 0.0
    ttft_s: float | None = None
    finish_reason: str | None = None  # None while streaming; then stop | length | stop_string | cancelled
    think_end: str | None = None  # what closed the reasoning: model | budget | loop | eos (None while open)
    cached_tokens: int = 0  # prompt tokens whose KV state was kept from an earlier request (not read again)


@dataclass
class Result:
    thinking: str
    answer: str
    prompt_tokens: int
    generated_tokens: int
    tokens_per_s: float
    ttft_s: float | None
    finish_reason: str
    think_end: str | None = None
    cached_tokens: int = 0


@dataclass
class EngineInfo:
    name: str
    backend: str
    precision: str
    path: str
    extra: dict = field(default_factory=dict)


class IncrementalDecoder:
    """Token ids -> text deltas, never splitting a multi-byte character (two-offset scheme)."""

    MAX_LAG = 8  # tokens

    def __init__(self, decode):
        self.decode, self.ids, self.prefix, self.read = decode, [], 0, 0

    def add(self, ids: list[int]) -> str:
        self.ids.extend(ids)
        before = self.decode(self.ids[self.prefix:self.read])
        after = self.decode(self.ids[self.prefix:])
        complete = len(after) > len(before) and not after.endswith("\ufffd")
        # Some tokenizers drop an incomplete character instead of writing U+FFFD; never wait on one forever.
        if complete or len(self.ids) - self.read > self.MAX_LAG:
            self.prefix, self.read = self.read, len(self.ids)
            return after[len(before):]
        return ""

    def force(self, ids: list[int], text: str) -> str:
        """Flush pending bytes, then take forced `ids` whose text is known (they decode on their own)."""
        pending = self.decode(self.ids[self.read:]) if self.read < len(self.ids) else ""
        self.ids.extend(ids)
        self.prefix = self.read = len(self.ids)
        return pending + text


class StopFilter:
    """Cuts answer text at the first stop string, holding back a tail that could start one."""

    def __init__(self, stops: list[str]):
        self.stops, self.held, self.done = [s for s in stops if s], "", False

    def feed(self, text: str) -> str:
        if self.done:
            return ""
        self.held += text
        hits = [i for s in self.stops if (i := self.held.find(s)) >= 0]
        if hits:
            out, self.held, self.done = self.held[: min(hits)], "", True
            return out
        keep = max((partial_suffix(self.held, s) for s in self.stops), default=0)
        out, self.held = self.held[: len(self.held) - keep], self.held[len(self.held) - keep:]
        return out

    def flush(self) -> str:
        out, self.held = self.held, ""
        return "" if self.done else out


def default_threads() -> int:
    """The cores this process may use (a container's CPU quota shows in its affinity mask)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


class Engine(ABC):
    """What every engine offers the app: stream() (and generate(), which joins it), how much of the context a
    prompt leaves free, and a token count. LocalEngine runs a model in this process; RemoteEngine
    (engine/remote.py) asks an OpenAI-compatible server."""
    info: EngineInfo

    def __init__(self):
        self._lock = threading.Lock()  # one generation at a time per loaded model

    @property
    def context_length(self) -> int:
        return 32768

    def stream(self, messages: list[dict], *, max_new_tokens: int = QA.max_new_tokens,
               temperature: float = QA.temperature, top_p: float = QA.top_p,
               thinking_budget: int = QA.thinking_budget, stop: list[str] | None = None,
               system: str | None = None, seed: int | None = None,
               cancel: threading.Event | None = None, loop_guard: bool = QA.loop_guard,
               repetition_penalty: float = QA.repetition_penalty) -> Iterator[Chunk]:
        """Stream (thinking, then answer) chunks. system: the system prompt, None for none
        (chat.system_prompt(lang) is MedAssist's); cancel: set it to stop this generation."""
        yield from self._stream(messages, max_new_tokens, temperature, top_p, thinking_budget, stop or [], system,
                                seed, cancel, loop_guard, repetition_penalty)

    @abstractmethod
    def _stream(self, messages, max_new_tokens, temperature, top_p, thinking_budget, stop, system, seed, cancel,
                loop_guard, repetition_penalty) -> Iterator[Chunk]: ...

    @abstractmethod
    def prompt_room(self, messages: list[dict], *, system: str | None = None, think: bool = True,
                    max_new_tokens: int = 0) -> int:
        """Tokens left in the context after this prompt and max_new_tokens; negative when it does not fit."""

    @abstractmethod
    def count_tokens(self, text: str) -> int: ...

    def generate(self, messages: list[dict], **kw) -> Result:
        thinking, answer, last = [], [], None
        for c in self.stream(messages, **kw):
            (thinking if c.phase == THINKING else answer).append(c.text)
            last = c
        return Result("".join(thinking), "".join(answer), last.prompt_tokens, last.generated_tokens,
                      last.tokens_per_s, last.ttft_s, last.finish_reason, last.think_end, last.cached_tokens)


    def choose(self, messages: list[dict], letters: str, *, system: str | None = None) -> str | None:
        """Which of the lettered options the model picks for a multiple-choice prompt: here by asking for the
        letter (a server); LocalEngine reads the letter's likelihood instead (small models rarely answer with
        a bare letter). None when the reply names no option."""
        r = self.generate(messages, system=system, thinking_budget=0, max_new_tokens=48, temperature=0)
        hits = re.findall(rf"(?:answer is|^|\(|\*\*)\s*\(?([{letters}])\b", r.answer.strip(), flags=re.M)
        return hits[0] if hits else None
