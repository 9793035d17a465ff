"""LocalEngine: a model in this process. A backend (onnx_engine.py, torch_engine.py) supplies tokenization
and a Session, the model's KV state over one token sequence; everything else lives here once: the prompt,
the <think> split, the thinking budget, stop strings, cancellation, sampling (sampling.py), timing.

The KV state is kept between requests. A new request rewinds it to the longest prefix its prompt shares
with what the state already holds and reads only the rest: MedAssist's system prompt is read once, and a
follow-up reads only the new turn when the conversation is sent back as the model wrote it
(chat.assistant_turn). A template that renders earlier turns differently (R1-style templates drop earlier
reasoning) costs a re-read from the first token that differs, never a wrong answer: the tokens kept are
the very tokens of the new prompt, at the same positions.

    eng = load_engine()                         # an OnnxEngine
    eng.generate(messages).cached_tokens        # how much of the prompt was not read again
"""
from __future__ import annotations

import time
from abc import abstractmethod
from typing import Protocol

import numpy as np

from medassist.model import chat as P
from medassist.model.engine.base import Chunk, Engine, IncrementalDecoder, StopFilter
from medassist.model.engine.sampling import Sampler
from medassist.model.thinking import ANSWER, THINKING, LoopGuard, ThinkParser


# letter_scores_many's kept state is allocated for this many tokens (~60 MiB for the 1.5B's ONNX build): a
# judge's prompt is instructions + a passage (<= 1,500 characters) + a sentence, ~500 tokens.
SCORING_WINDOW = 1024


class Session(Protocol):
    """A model's KV state over one token sequence. The engine samples; the session only runs the model."""
    tokens: list[int]  # the sequence the state holds
    capacity: int  # the most tokens it can hold

    def feed(self, ids: list[int]) -> None: ...  # run tokens through the model; they join the sequence

    def logits(self) -> np.ndarray: ...  # next-token logits after the sequence (valid after a feed)

    def rewind(self, n: int) -> None: ...  # keep the first n tokens


def common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    if n == 0:
        return 0
    diff = np.flatnonzero(np.asarray(a[:n]) != np.asarray(b[:n]))
    return int(diff[0]) if diff.size else n


class LocalEngine(Engine):
    chat_template: str
    special: dict[str, str]
    eos_ids: set[int]
    # The kept KV state is allocated for this many tokens (the ONNX runtime allocates it whole: ~350 MiB for
    # the 1.5B), so a conversation grows inside it without a new allocation; a longer request gets its own.
    kv_window: int = 8192
    # False: every request reads its whole prompt. Exam runs turn it off: on a quantized build a prompt read in
    # pieces rounds differently from one read whole (one-row and many-row kernels), so where two tokens are
    # within ~0.1 logit greedy output can differ, and a table must not depend on the order of its items.
    reuse_kv: bool = True

    def __init__(self):
        super().__init__()
        self._kv: Session | None = None  # the kept KV state (guarded by the engine's lock)
        self._scoring: Session | None = None  # letter_scores_many's own kept state (its prompts share a head)

    @abstractmethod
    def encode(self, text: str) -> list[int]: ...

    @abstractmethod
    def decode(self, ids: list[int]) -> str: ...

    @abstractmethod
    def new_session(self, capacity: int) -> Session: ...

    def count_tokens(self, text: str) -> int:
        return len(self.encode(text))

    def prompt_room(self, messages: list[dict], *, system: str | None = None, think: bool = True,
                    max_new_tokens: int = 0) -> int:
        return self.context_length - len(self.encode(self.render(messages, system=system, think=think))) \
            - max_new_tokens - 16

    def render(self, messages: list[dict], *, system: str | None = None, think: bool = True) -> str:
        return P.build_prompt(self.chat_template, messages, system=system, think=think, **self.special)

    def warm(self, system: str | None, history: list[dict] = ()) -> int:
        """Read a conversation's head (this system prompt, the history, and the template up to the next
        question) into the kept state, so the next question reads only itself. Returns the head's tokens."""
        a, b = (self.encode(self.render([*history, {"role": "user", "content": x}], system=system))
                for x in ("a", "b"))
        head = a[:common_prefix(a, b)]
        if not self.reuse_kv or not head:
            return 0
        with self._lock:
            self._prefill(head, len(head))
        return len(head)

    def forget(self) -> None:
        """Drop the kept KV state (its memory goes back; the next request reads its whole prompt)."""
        with self._lock:
            self._kv = self._scoring = None

    def _take(self, slot: str, need: int, window: int) -> Session:
        """The state kept in `slot` ("_kv": the chat's, "_scoring": the judge's), taken out while it is changed
        (a failure leaves none), or a new one of max(need, window) tokens when there is none or it is too small."""
        kept = getattr(self, slot)
        setattr(self, slot, None)
        if kept is None or not self.reuse_kv or kept.capacity < need:
            kept = None  # its memory goes back before a new state is allocated
            kept = self.new_session(min(self.context_length, max(need, window)))
        return kept

    @staticmethod
    def _read(session: Session, ids: list[int]) -> int:
        """Rewind the session to the prefix it shares with ids and read the rest; returns the tokens not read.
        At least the last token is read again: logits are only fresh after a feed."""
        keep = min(common_prefix(session.tokens, ids), len(ids) - 1)
        if keep < len(session.tokens):
            session.rewind(keep)
        session.feed(ids[keep:])
        return keep

    def _prefill(self, prompt_ids: list[int], need: int) -> tuple[Session, int]:
        """A session holding prompt_ids and ready for the next token, and how many of them it did not read:
        the kept state rewound to the prefix it shares with this prompt, when it can hold `need` tokens."""
        kept = self._take("_kv", need, self.kv_window)
        keep = self._read(kept, prompt_ids)
        self._kv = kept if self.reuse_kv else None
        return kept, keep

    def letter_scores(self, messages: list[dict], letters: str, *, system: str | None = None) -> list[float]:
        """The next-token logit of each option letter, with the reasoning closed and "The answer is (" opened
        (the exams' log-likelihood scoring and choose() both read it). Always from a fresh state, the prompt
        read whole: an exam's scores must not depend on which item came before (see reuse_kv)."""
        ids = self.encode(self.render(messages, system=system, think=False) + "The answer is (")
        with self._lock:
            session = self.new_session(len(ids) + 2)
            session.feed(ids)
            flat = np.asarray(session.logits()).reshape(-1)
        return [float(flat[self.encode(x)[0]]) for x in letters]

    def letter_scores_many(self, prompts: list[list[dict]], letters: str, *, system: str | None = None) -> list[list[float]]:
        """letter_scores for many prompts in one state: each is read from where it parts from the one before, so
        prompts that share a head (the support judge's instructions and passage) read it once. The state is kept
        for the next call (its own, beside the chat's): a summary judges each field's sentences in a call of its
        own, and every call starts with the same ~100-token instructions. Scores match the prompt read whole to
        rounding (tests/test_support.py)."""
        seqs = [self.encode(self.render(m, system=system, think=False) + "The answer is (") for m in prompts]
        if not seqs:
            return []
        letter_ids = [self.encode(x)[0] for x in letters]
        need = max(len(s) for s in seqs) + 2
        out = []
        with self._lock:
            session = self._take("_scoring", need, SCORING_WINDOW)
            for ids in seqs:
                self._read(session, ids)
                flat = np.asarray(session.logits()).reshape(-1)
                out.append([float(flat[i]) for i in letter_ids])
            self._scoring = session if self.reuse_kv else None
        return out

    def choose(self, messages: list[dict], letters: str, *, system: str | None = None) -> str | None:
        scores = self.letter_scores(messages, letters, system=system)
        return letters[scores.index(max(scores))]

    def _stream(self, *args):
        with self._lock:  # one generation at a time on a model in this process
            try:
                yield from self._decode(*args)
            except Exception:
                self._kv = None  # a state left half-fed is never reused
                raise

    def _decode(self, messages, max_new_tokens, temperature, top_p, thinking_budget, stop, system, seed, cancel,
                loop_guard, repetition_penalty):
        t0 = time.perf_counter()
        think = thinking_budget > 0
        prompt_ids = self.encode(self.render(messages, system=system, think=think))
        if len(prompt_ids) >= self.context_length - 16:
            raise ValueError(f"The prompt is {len(prompt_ids)} tokens, longer than this model's "
                             f"{self.context_length}-token context. Shorten the question or the history.")
        max_length = min(self.context_length, len(prompt_ids) + thinking_budget + max_new_tokens + 64)
        session, cached = self._prefill(prompt_ids, max_length)
        sampler = Sampler(temperature=temperature, top_p=top_p, seed=seed, penalty=repetition_penalty,
                          prompt_ids=prompt_ids)
        parser, decoder, stops = ThinkParser(prefilled=think), IncrementalDecoder(self.decode), StopFilter(stop)
        guard = LoopGuard() if loop_guard and think else None
        n_think = n_answer = n_gen = n_forced = 0
        t_first = ttft = finish = think_end = None
        pending: list[int] = []  # chosen (or forced) but not yet run through the model

        def chunk(text, phase, reason=None):
            rate = (n_gen - 1) / (time.perf_counter() - t_first) if t_first and n_gen > 1 else 0.0
            return Chunk(text, phase, len(prompt_ids), n_gen, rate, ttft, reason, think_end, cached)

        def emit(pieces):
            for phase, text in pieces:
                text = stops.feed(text) if phase == ANSWER else text
                if text:
                    yield chunk(text, phase)

        # Greedy, unpenalised requests (papers, exams) let a backend that can choose several tokens per pass do
        # so (onnx_engine.py: n-gram drafts); its tokens are then already in the state when they arrive.
        spec = temperature <= 0 and repetition_penalty == 1.0 and getattr(self, "speculative", False)

        def take_back(n):  # the last n tokens of a step are not kept (only a multi-token step has them in the state)
            if n and spec:
                session.rewind(len(session.tokens) - n)

        while finish is None:
            if cancel is not None and cancel.is_set():
                finish = "cancelled"
                break
            if len(prompt_ids) + n_gen + n_forced >= max_length:  # the context is full
                finish = "length"
                break
            if pending:
                session.feed(pending)
                sampler.saw(pending)
                pending = []
            step = session.greedy() if spec else [sampler.next(session.logits())]
            for j, tok in enumerate(step):
                after = len(step) - j - 1  # tokens of this step after this one
                n_gen += 1
                if t_first is None:
                    t_first = time.perf_counter()
                    ttft = t_first - t0
                thinking = parser.phase != ANSWER
                if tok in self.eos_ids and not (thinking and think):
                    finish = "stop"
                    break
                if tok in self.eos_ids:
                    take_back(after + 1)  # ended while still reasoning: the end is not kept; the answer is asked for
                    pieces = []
                else:
                    if not spec:
                        pending = [tok]
                    pieces = parser.feed(decoder.add([tok]))
                    n_answer += parser.phase == ANSWER
                    n_think += parser.phase != ANSWER
                    if think and thinking and parser.phase == ANSWER:
                        think_end = "model"
                looping = guard is not None and parser.phase != ANSWER and guard.add(tok)
                closing = parser.phase != ANSWER and (n_think >= thinking_budget or tok in self.eos_ids or looping)
                if closing:
                    # Budget spent, the model stopped, or it is going round in circles: close the think
                    # block; the model goes on with its answer.
                    if think:
                        think_end = "eos" if tok in self.eos_ids else "loop" if looping else "budget"
                    if tok not in self.eos_ids:
                        take_back(after)
                    forced = self.encode(P.FORCE_CLOSE)
                    pending += forced
                    n_forced += len(forced)
                    pieces += parser.feed(decoder.force(forced, P.FORCE_CLOSE))
                yield from emit(pieces)
                if stops.done:
                    finish = "stop_string"
                elif n_answer >= max_new_tokens or len(prompt_ids) + n_gen + n_forced >= max_length:
                    finish = "length"
                if finish or closing:
                    break
        yield from emit(parser.flush())
        if tail := stops.flush():
            yield chunk(tail, ANSWER)
        yield chunk("", ANSWER if parser.phase == ANSWER else THINKING, finish)
