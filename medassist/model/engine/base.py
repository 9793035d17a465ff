"""The engine: the one seam between the UI and a model.

    for chunk in engine.stream(messages, max_new_tokens=512, thinking_budget=512):
        print(chunk.phase, chunk.text)

stream() is the primitive; generate() just joins it. A local backend (ONNX, PyTorch)
only supplies tokenization and a Session that produces one token at a time and
accepts forced tokens; everything else lives here once: the prompt, the
<think> split, the thinking budget, stop strings, cancellation, timing.

Budgets: thinking_budget caps reasoning tokens (then "</think>" is forced),
max_new_tokens caps answer tokens. loop_guard closes the reasoning early when it
repeats itself; repetition_penalty (>1) makes every token already in the sequence
less likely. Every chunk after the think block says what closed it (think_end).
"""
from __future__ import annotations

import os
import re
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Iterator, Protocol

from medassist.model import chat as P
from medassist.model.defaults import QA
from medassist.model.thinking import ANSWER, THINKING, LoopGuard, ThinkParser, partial_suffix


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


class Session(Protocol):
    def next(self) -> int: ...  # sample one token (it becomes part of the sequence)
    def append(self, ids: list[int]) -> None: ...  # force tokens into the sequence
    def drop_last(self) -> None: ...  # take back the token next() just returned
    def logits(self): ...  # next-token logits after the sequence so far (for scoring)


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
                      last.tokens_per_s, last.ttft_s, last.finish_reason, last.think_end)


    def choose(self, messages: list[dict], letters: str, *, system: str | None = None) -> str | None:
        """Which of the lettered options the model picks for a multiple-choice prompt: here by asking for the
        letter (a server); LocalEngine reads the letter's likelihood instead (small models rarely answer with
        a bare letter). None when the reply names no option."""
        r = self.generate(messages, system=system, thinking_budget=0, max_new_tokens=48, temperature=0)
        hits = re.findall(rf"(?:answer is|^|\(|\*\*)\s*\(?([{letters}])\b", r.answer.strip(), flags=re.M)
        return hits[0] if hits else None


class LocalEngine(Engine):
    """A model in this process: a backend (ONNX, PyTorch) supplies tokenization and a token-at-a-time Session."""
    chat_template: str
    special: dict[str, str]
    eos_ids: set[int]

    @abstractmethod
    def encode(self, text: str) -> list[int]: ...

    @abstractmethod
    def decode(self, ids: list[int]) -> str: ...

    @abstractmethod
    def start(self, prompt_ids: list[int], *, temperature: float, top_p: float, max_length: int,
              seed: int | None, repetition_penalty: float = 1.0) -> Session: ...

    def count_tokens(self, text: str) -> int:
        return len(self.encode(text))

    def prompt_room(self, messages: list[dict], *, system: str | None = None, think: bool = True,
                    max_new_tokens: int = 0) -> int:
        return self.context_length - len(self.encode(self.render(messages, system=system, think=think))) \
            - max_new_tokens - 16

    def letter_scores(self, messages: list[dict], letters: str, *, system: str | None = None) -> list[float]:
        """The next-token logit of each option letter, with the reasoning closed and "The answer is (" opened
        (the exams' log-likelihood scoring and choose() both read it)."""
        ids = self.encode(self.render(messages, system=system, think=False) + "The answer is (")
        with self._lock:
            logits = self.start(ids, temperature=0, top_p=1, max_length=len(ids) + 2, seed=0).logits()
        flat = logits.reshape(-1) if hasattr(logits, "reshape") else logits
        return [float(flat[self.encode(x)[0]]) for x in letters]

    def choose(self, messages: list[dict], letters: str, *, system: str | None = None) -> str | None:
        scores = self.letter_scores(messages, letters, system=system)
        return letters[scores.index(max(scores))]

    def render(self, messages: list[dict], *, system: str | None = None, think: bool = True) -> str:
        return P.build_prompt(self.chat_template, messages, system=system, think=think, **self.special)

    def _stream(self, *args):
        with self._lock:  # one generation at a time on a model in this process
            yield from self._decode(*args)

    def _decode(self, messages, max_new_tokens, temperature, top_p, thinking_budget, stop, system, seed, cancel,
                loop_guard, repetition_penalty):
        t0 = time.perf_counter()
        think = thinking_budget > 0
        prompt_ids = self.encode(self.render(messages, system=system, think=think))
        if len(prompt_ids) >= self.context_length - 16:
            raise ValueError(f"The prompt is {len(prompt_ids)} tokens, longer than this model's "
                             f"{self.context_length}-token context. Shorten the question or the history.")
        max_length = min(self.context_length, len(prompt_ids) + thinking_budget + max_new_tokens + 64)
        session = self.start(prompt_ids, temperature=temperature, top_p=top_p, max_length=max_length, seed=seed,
                             repetition_penalty=repetition_penalty)
        parser, decoder, stops = ThinkParser(prefilled=think), IncrementalDecoder(self.decode), StopFilter(stop)
        guard = LoopGuard() if loop_guard and think else None
        n_think = n_answer = n_gen = 0
        t_first = ttft = finish = think_end = None

        def chunk(text, phase, reason=None):
            rate = (n_gen - 1) / (time.perf_counter() - t_first) if t_first and n_gen > 1 else 0.0
            return Chunk(text, phase, len(prompt_ids), n_gen, rate, ttft, reason, think_end)

        def emit(pieces):
            for phase, text in pieces:
                text = stops.feed(text) if phase == ANSWER else text
                if text:
                    yield chunk(text, phase)

        n_forced = 0
        while finish is None:
            if cancel is not None and cancel.is_set():
                finish = "cancelled"
                break
            if len(prompt_ids) + n_gen + n_forced >= max_length:  # the context is full
                finish = "length"
                break
            tok = session.next()
            n_gen += 1
            if t_first is None:
                t_first = time.perf_counter()
                ttft = t_first - t0
            thinking = parser.phase != ANSWER
            if tok in self.eos_ids and not (thinking and think):
                finish = "stop"
                break
            if tok in self.eos_ids:
                # Ended while still reasoning: take the end back and ask for the answer instead.
                session.drop_last()
                pieces = []
            else:
                pieces = parser.feed(decoder.add([tok]))
                n_answer += parser.phase == ANSWER
                n_think += parser.phase != ANSWER
                if think and thinking and parser.phase == ANSWER:
                    think_end = "model"
            looping = guard is not None and parser.phase != ANSWER and guard.add(tok)
            if parser.phase != ANSWER and (n_think >= thinking_budget or tok in self.eos_ids or looping):
                # Budget spent, the model stopped, or it is going round in circles: close the think
                # block; the model goes on with its answer.
                if think:
                    think_end = "eos" if tok in self.eos_ids else "loop" if looping else "budget"
                forced = self.encode(P.FORCE_CLOSE)
                session.append(forced)
                n_forced += len(forced)
                pieces += parser.feed(decoder.force(forced, P.FORCE_CLOSE))
            yield from emit(pieces)
            if stops.done:
                finish = "stop_string"
            elif n_answer >= max_new_tokens:
                finish = "length"
        yield from emit(parser.flush())
        if tail := stops.flush():
            yield chunk(tail, ANSWER)
        yield chunk("", ANSWER if parser.phase == ANSWER else THINKING, finish)
