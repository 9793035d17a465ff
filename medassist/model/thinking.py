"""Streaming split of a reasoning model's output into thinking and answer.

Text arrives in arbitrary pieces (a tag can be split across tokens). The
parser emits (phase, text) segments as soon as they are certain, holding back
only a tail that could still become "</think>". The prompt usually pre-fills
"<think>", so the parser normally starts in the thinking phase; a model that
writes "<think>" itself, or never writes it, is handled too.

    p = ThinkParser(prefilled=True)
    for piece in pieces: for phase, text in p.feed(piece): ...
    for phase, text in p.flush(): ...

LoopGuard spots reasoning that has fallen into a loop (small models decoding greedily often repeat
one paragraph until the budget runs out), so the engine can close the think block early.
"""
from __future__ import annotations

from collections import Counter

from medassist.model.chat import THINK_CLOSE, THINK_OPEN

THINKING, ANSWER = "thinking", "answer"


def partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of text that is a proper prefix of tag."""
    for k in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-k:]):
            return k
    return 0


class ThinkParser:
    def __init__(self, prefilled: bool = True):
        # "start": not yet known whether the model opens a think block.
        self.phase = THINKING if prefilled else "start"
        self.buf = ""
        self._fresh = True  # strip whitespace (and a repeated <think>) at the start of a phase

    def feed(self, text: str) -> list[tuple[str, str]]:
        self.buf += text
        out: list[tuple[str, str]] = []
        while self.buf:
            if self.phase == "start":
                s = self.buf.lstrip()
                if s.startswith(THINK_OPEN):
                    self.buf, self.phase, self._fresh = s[len(THINK_OPEN):], THINKING, True
                    continue
                if not s or THINK_OPEN.startswith(s):
                    break  # could still be the opening tag
                self.phase = ANSWER
                continue
            if self._fresh:
                s = self.buf.lstrip()
                if self.phase == THINKING and s.startswith(THINK_OPEN):
                    s = s[len(THINK_OPEN):].lstrip()
                elif not s or (self.phase == THINKING and THINK_OPEN.startswith(s)):
                    self.buf = s
                    break
                self.buf, self._fresh = s, False
                continue
            if self.phase == ANSWER:
                out.append((ANSWER, self.buf))
                self.buf = ""
                break
            i = self.buf.find(THINK_CLOSE)
            if i >= 0:
                if self.buf[:i].rstrip():
                    out.append((THINKING, self.buf[:i].rstrip()))
                self.buf, self.phase, self._fresh = self.buf[i + len(THINK_CLOSE):], ANSWER, True
                continue
            keep = partial_suffix(self.buf, THINK_CLOSE)
            # Whitespace just before "</think>" is dropped, so hold a whitespace tail until more text comes.
            keep += len(self.buf[: len(self.buf) - keep]) - len(self.buf[: len(self.buf) - keep].rstrip())
            if len(self.buf) > keep:
                out.append((THINKING, self.buf[: len(self.buf) - keep]))
                self.buf = self.buf[len(self.buf) - keep:]
            break
        return out

    def flush(self) -> list[tuple[str, str]]:
        """Emit whatever is held back; a never-closed think block stays thinking."""
        rest, self.buf = self.buf, ""
        if not rest.strip():
            return []
        phase = ANSWER if self.phase == "start" else self.phase
        return [(phase, rest.strip() if self._fresh else rest)]


class LoopGuard:
    """True once the last `window` tokens have occurred `times` times in the reasoning so far.

    An exact 32-token run seen a third time is a loop, not emphasis: healthy reasoning may restate a
    phrase once, but not the same 32 tokens thrice. A loop of period p is caught after about 2p + window
    tokens. (On MedMCQA every reasoning chain that ran to its budget was such a loop.)
    """

    def __init__(self, window: int = 32, times: int = 3):
        self.window, self.times = window, times
        self.ids: list[int] = []
        self.seen: Counter = Counter()

    def add(self, token: int) -> bool:
        self.ids.append(token)
        if len(self.ids) < self.window:
            return False
        key = hash(tuple(self.ids[-self.window:]))
        self.seen[key] += 1
        return self.seen[key] >= self.times


def split(text: str, prefilled: bool = True) -> tuple[str, str]:
    """Non-streaming split of a whole output into (thinking, answer)."""
    p = ThinkParser(prefilled)
    parts = p.feed(text) + p.flush()
    return ("".join(t for ph, t in parts if ph == THINKING), "".join(t for ph, t in parts if ph == ANSWER))
