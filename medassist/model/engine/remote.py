"""An engine that asks an OpenAI-compatible chat server (llama-server, Ollama, LM Studio, vLLM, TGI, MedAssist).

    from medassist.model.endpoints import Endpoint
    engine = RemoteEngine(Endpoint(url="http://127.0.0.1:8080/v1", model="qwen"))
    for c in engine.stream([{"role": "user", "content": "..."}], thinking_budget=512): ...

The same Chunk stream as a local model, so every tab works unchanged. Reasoning arrives either as
<think>…</think> in the text or in the `reasoning_content` / `reasoning` fields of each delta (vLLM,
llama.cpp, Ollama, LM Studio, MedAssist); both become the "thinking" phase. The server cannot be told
MedAssist's budgets, so they are kept here: when the reasoning runs past thinking_budget (or the loop
guard sees it repeat) the stream is closed and a second request asks for the answer, given the reasoning
so far. thinking_budget=0 (paper work) hides the reasoning of a model that reasons anyway and still caps it.

Token counts are one per streamed delta (servers send one token per delta) until the server's usage
figures arrive at the end. Without a tokenizer folder, context fitting uses a deliberately high estimate
(estimate_tokens). Every failure becomes a RemoteError: a code the app translates and one plain sentence.
"""
from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Iterator

from medassist.model.endpoints import Endpoint, client
from medassist.model.engine.base import Chunk, Engine, EngineInfo, StopFilter
from medassist.model.thinking import ANSWER, THINKING, LoopGuard, ThinkParser

DEFAULT_CONTEXT = 8192  # when neither the user nor the server says: small enough for any current server
SILENT_THINKING_CAP = 1024  # reasoning allowed (and hidden) when the caller asked for none
FINISH_THINKING_CAP = 256  # reasoning allowed in the second request, which asks for the answer only
# Names of models that reason without writing "<think>" themselves (the chat template opens the block).
REASONING_NAMES = re.compile(r"r1|qwq|think|reason|huatuo|o1\b|o3\b|qwen3", re.I)
FINISH = {
    "en": ("Here is your reasoning so far:\n<reasoning>\n{reasoning}\n</reasoning>\n"
           "Stop reasoning now. Based on it, give your final answer to my question."),
    "zh": "以下是你目前的推理：\n<reasoning>\n{reasoning}\n</reasoning>\n请停止推理，据此直接给出对我问题的最终回答。",
}


class RemoteError(RuntimeError):
    """code: refused | timeout | auth | not_found | rate_limit | context | bad_request | server | broken."""

    SENTENCES = {
        "refused": "The model server at {host} could not be reached: is it running, and is the address right?",
        "timeout": "The model server at {host} did not answer in time.",
        "auth": "The model server at {host} refused the API key.",
        "not_found": "The model server at {host} does not have that model (or that address is not its /v1 API).",
        "rate_limit": "The model server at {host} is busy or over its rate limit: try again shortly.",
        "context": "The request is longer than the model's context on {host}: shorten the question or history.",
        "bad_request": "The model server at {host} rejected the request: {detail}",
        "server": "The model server at {host} had an internal error: {detail}",
        "broken": "The connection to the model server at {host} broke off: {detail}",
    }

    def __init__(self, code: str, host: str, detail: str = ""):
        self.code, self.host, self.detail = code, host, detail[:200]
        super().__init__(self.SENTENCES[code].format(host=host, detail=self.detail or "no details"))


def _server_message(e) -> str:
    body = getattr(e, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        msg = err.get("message") if isinstance(err, dict) else err
        if msg:
            return str(msg)
    return str(getattr(e, "message", "") or e)


def remote_error(e: Exception, host: str) -> RemoteError:
    """Any exception from talking to a server -> one RemoteError (the openai client's types, mapped once)."""
    import openai

    if isinstance(e, RemoteError):
        return e
    if isinstance(e, openai.APITimeoutError):
        return RemoteError("timeout", host)
    if isinstance(e, openai.APIConnectionError):
        return RemoteError("refused", host)
    if isinstance(e, (openai.AuthenticationError, openai.PermissionDeniedError)):
        return RemoteError("auth", host)
    if isinstance(e, openai.NotFoundError):
        return RemoteError("not_found", host, _server_message(e))
    if isinstance(e, openai.RateLimitError):
        return RemoteError("rate_limit", host)
    if isinstance(e, openai.APIStatusError):
        msg = _server_message(e)
        if re.search(r"context|too long|maximum.*tokens|exceed", msg, re.I) and e.status_code in (400, 413, 422):
            return RemoteError("context", host, msg)
        return RemoteError("server" if e.status_code >= 500 else "bad_request", host, msg)
    return RemoteError("broken", host, str(e) or type(e).__name__)


def estimate_tokens(text: str) -> int:
    """A deliberately high token count for text whose tokenizer is unknown: each CJK character 1.5 tokens, each
    digit and ASCII punctuation mark 1 (tokenizers split numbers finely), each other non-ASCII character one per
    UTF-8 byte (a byte-level tokenizer's worst case), and ASCII letters one per 3. Real tokenizers give English
    about one token per 4 characters; tests check the estimate against the Qwen, Gemma and BERT tokenizers."""
    cjk = len(re.findall(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]", text))
    digits_punct = sum(c.isascii() and not c.isalpha() and not c.isspace() for c in text)
    letters = sum(c.isascii() and c.isalpha() for c in text)
    other = sum(len(c.encode("utf-8")) for c in text if not c.isascii()) - 3 * cjk
    return int(cjk * 1.5 + digits_punct + other + letters / 3) + 1


class RemoteEngine(Engine):
    def __init__(self, ep: Endpoint, context_length: int | None = None):
        super().__init__()
        self.ep = ep
        self.client = client(ep)
        self._context = ep.context_length or context_length or DEFAULT_CONTEXT
        self._tokenizer = None
        if ep.tokenizer:  # a folder (or file) with the model's tokenizer.json: exact counts instead of the estimate
            from tokenizers import Tokenizer

            p = Path(ep.tokenizer).expanduser()
            self._tokenizer = Tokenizer.from_file(str(p / "tokenizer.json" if p.is_dir() else p))
        self.prefilled_think = bool(REASONING_NAMES.search(ep.model))
        self.info = EngineInfo(ep.label, "remote", "server", ep.url,
                               extra={"host": ep.host, "endpoint": ep.name, "context": self._context})

    @property
    def context_length(self) -> int:
        return self._context

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer.encode(text).ids) if self._tokenizer else estimate_tokens(text)

    def prompt_tokens(self, msgs: list[dict]) -> int:
        """8 tokens a message for the chat template's role markers; the tokenizer's count or the estimate for text."""
        return sum(self.count_tokens(m["content"]) + 8 for m in msgs)

    def prompt_room(self, messages, *, system=None, think=True, max_new_tokens=0) -> int:
        msgs = ([{"role": "system", "content": system}] if system else []) + list(messages)
        return self.context_length - self.prompt_tokens(msgs) - max_new_tokens - 16

    def _stream(self, messages, max_new_tokens, temperature, top_p, thinking_budget, stop, system, seed, cancel,
                loop_guard, repetition_penalty) -> Iterator[Chunk]:
        # repetition_penalty is not part of the protocol: the server's own sampling settings apply.
        msgs = ([{"role": "system", "content": system}] if system else []) + [
            {"role": m["role"], "content": m["content"]} for m in messages]
        show = thinking_budget > 0
        run = _Run(self, cancel, stop, max_new_tokens)
        sampling = dict(temperature=temperature, top_p=top_p if temperature > 0 else 1.0, seed=seed)
        budget = thinking_budget if show else SILENT_THINKING_CAP
        yield from run.request(msgs, budget + max_new_tokens, sampling, budget, show, loop_guard)
        if run.cut:  # reasoning closed by the budget or the loop guard: ask for the answer, given the reasoning
            lang = "zh" if re.search(r"[\u4e00-\u9fff]", messages[-1]["content"]) else "en"
            ask = FINISH[lang].format(reasoning=run.reasoning.strip())
            yield from run.request(msgs + [{"role": "user", "content": ask}], FINISH_THINKING_CAP + max_new_tokens,
                                   sampling, FINISH_THINKING_CAP, False, loop_guard, final=True)
        yield from run.end()


class _Run:
    """One stream() call: counts, timing and the answer filter across its one or two requests."""

    def __init__(self, engine: RemoteEngine, cancel, stop, max_new_tokens):
        self.e, self.cancel, self.max_new = engine, cancel, max_new_tokens
        self.stops = StopFilter(stop)
        self.t0, self.t_first, self.ttft = time.perf_counter(), None, None
        self.n_gen = self.n_answer = self.prompt_tokens = 0
        self.reasoning, self.think_end, self.finish, self.cut, self.any_thinking = "", None, None, False, False

    def chunk(self, text, phase, reason=None) -> Chunk:
        rate = (self.n_gen - 1) / (time.perf_counter() - self.t_first) if self.t_first and self.n_gen > 1 else 0.0
        return Chunk(text, phase, self.prompt_tokens, self.n_gen, rate, self.ttft,
                     reason, self.think_end)

    def request(self, msgs, max_tokens, sampling, budget, show, loop_guard, final=False) -> Iterator[Chunk]:
        """One HTTP stream. Sets self.cut when the reasoning must be closed here (budget, loop guard, or the
        stream ended inside it) so that stream() asks for the answer; `final` is that second request."""
        e = self.e
        self.cut = False
        if not self.prompt_tokens:
            self.prompt_tokens = e.prompt_tokens(msgs)
        parser, split_by_server = None, False
        guard = LoopGuard() if loop_guard else None
        n_think, why = 0, None
        try:
            stream = e.client.chat.completions.create(
                model=e.ep.model, messages=msgs, stream=True, max_tokens=max_tokens,
                stream_options={"include_usage": True}, extra_body=e.ep.extra_body or None,
                **{k: v for k, v in sampling.items() if v is not None})
        except Exception as ex:
            raise remote_error(ex, e.ep.host) from None
        done = threading.Event()
        if self.cancel is not None:
            # Stop closes the HTTP stream at once, also while the server is still reading the prompt.
            def watch():
                while not done.is_set():
                    if self.cancel.wait(0.1):
                        stream.close()
                        return
            threading.Thread(target=watch, daemon=True).start()

        def thinking(text):
            nonlocal n_think, why
            n_think += 1
            self.reasoning += text
            if not final:
                self.any_thinking = True
            if guard is not None and guard.add(hash(text)):
                why = "loop"
            return [self.chunk(text, THINKING)] if show else []

        def answer(text):
            if self.any_thinking and self.think_end is None:
                self.think_end = "model"
            self.n_answer += 1
            out = self.stops.feed(text)
            return [self.chunk(out, ANSWER)] if out else []

        try:
            for ev in stream:
                if ev.usage and ev.usage.prompt_tokens and not final:
                    self.prompt_tokens = ev.usage.prompt_tokens
                if not ev.choices:
                    continue
                ch = ev.choices[0]
                d = ch.delta
                extra = (d.model_extra or {}) if d else {}
                reasoning = extra.get("reasoning_content") or extra.get("reasoning") or ""
                content = d.content if d and d.content else ""
                if reasoning:
                    split_by_server = True
                if content and parser is None:
                    # The server split the reasoning off, or the model writes <think> itself, or (R1-style names)
                    # the chat template opened the block and the text starts inside it.
                    parser = ThinkParser(prefilled=e.prefilled_think and not split_by_server)
                pieces = ([(THINKING, reasoning)] if reasoning else []) + (parser.feed(content) if content else [])
                if pieces:
                    self.n_gen += 1
                    if self.t_first is None:
                        self.t_first = time.perf_counter()
                        self.ttft = self.t_first - self.t0
                for phase, text in pieces:
                    yield from thinking(text) if phase == THINKING else answer(text)
                if why is None and n_think >= budget and self.n_answer == 0:
                    why = "budget"
                if why or self.stops.done or self.n_answer >= self.max_new or self._cancelled():
                    break
                if ch.finish_reason:
                    self.finish = "length" if ch.finish_reason == "length" else "stop"
            else:  # the server ended the reply
                for phase, text in (parser.flush() if parser else []):
                    yield from thinking(text) if phase == THINKING else answer(text)
                if self.n_answer == 0 and n_think:
                    why = "eos"  # it stopped inside its reasoning: ask for the answer, as a local model would be
        except Exception as ex:
            if not self._cancelled():
                raise remote_error(ex, e.ep.host) from None
        finally:
            done.set()
            stream.close()
        if self._cancelled():
            self.finish = "cancelled"
        elif self.stops.done:
            self.finish = "stop_string"
        elif self.n_answer >= self.max_new:
            self.finish = "length"
        elif why and final:
            self.finish = "length"  # asked for the answer, it reasoned on past its allowance: give up here
        elif why:
            self.think_end = self.think_end or why
            self.cut = True

    def _cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def end(self) -> Iterator[Chunk]:
        if tail := self.stops.flush():
            yield self.chunk(tail, ANSWER)
        if self.any_thinking and self.think_end is None:
            self.think_end = "eos"
        yield self.chunk("", ANSWER if self.n_answer else THINKING, self.finish or "stop")
