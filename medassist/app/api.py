"""MedAssist as an OpenAI-compatible server: /v1/models and /v1/chat/completions on the app's own port.

    medassist                 # the page and the API, http://127.0.0.1:7860/v1
    medassist --api-only      # the API alone (a department server), no page

    from openai import OpenAI
    client = OpenAI(base_url="http://127.0.0.1:7860/v1", api_key="none")
    client.chat.completions.create(model="medassist", messages=[...], stream=True)

Any tool that speaks the protocol (Open WebUI, LM Studio's client side, Jan, scripts) can then use MedAssist,
and what makes it MedAssist comes along: reasoning in `reasoning_content` (as vLLM, llama.cpp and Ollama send it),
the red-flag check (an emergency notice at the top of the answer and as the `medassist.red_flags` field), and
the same model, settings and turn-taking as the page (one generation at a time on a local model). Nothing a
client sends is stored but the audit entry, which holds a hash of the question, never its text.

Keys: on 127.0.0.1 no key is needed. Served beyond this computer (--host), every request must carry
`Authorization: Bearer <key>`, the key from MEDASSIST_API_KEY or --api-key-file; without one the API is off.
"""
from __future__ import annotations

import asyncio
import hmac
import json
import threading
import time
import uuid

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, StreamingResponse

from medassist.app.i18n import t
from medassist.model.chat import question_language, system_prompt
from medassist.model.defaults import QA
from medassist.store.safety import red_flags

FINISH = {"stop": "stop", "stop_string": "stop", "length": "length", "cancelled": "stop", None: "stop"}


MAX_MESSAGES, MAX_CHARS = 500, 400_000  # per request: far beyond any context this serves, short of exhausting memory

def _error(status: int, message: str, kind: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "code": status}}, status_code=status)


def router(service, history, cfg, api_key: str | None) -> APIRouter:
    r = APIRouter(prefix="/v1")
    loopback = cfg.host in ("127.0.0.1", "localhost", "::1")

    def check_key(request: Request) -> None:
        if loopback and not api_key:
            return
        if not api_key:
            raise HTTPException(403, "The API is off: serving beyond this computer needs MEDASSIST_API_KEY "
                                     "(or --api-key-file) to be set when MedAssist starts.")
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {api_key}".encode()):
            raise HTTPException(401, "Missing or wrong API key (Authorization: Bearer <key>).")

    def model_id() -> str:
        return service.engine.info.name if service.ready else "medassist"

    @r.get("/models")
    def models(request: Request):
        check_key(request)
        ctx = service.engine.context_length if service.ready else None
        return {"object": "list", "data": [{"id": model_id(), "object": "model", "created": 0,
                                            "owned_by": "medassist", "context_length": ctx,
                                            "ready": service.ready, "label": service.describe()}]}

    @r.post("/chat/completions")
    async def chat(request: Request):
        try:
            check_key(request)
        except HTTPException as e:
            return _error(e.status_code, e.detail, "authentication_error")
        try:
            body = await request.json()
            messages = [{"role": m["role"], "content": _text(m.get("content"))} for m in body["messages"]]
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            return _error(400, "The body must be JSON with a `messages` list of {role, content}.", "invalid_request_error")
        if len(messages) > MAX_MESSAGES or sum(len(m["content"]) for m in messages) > MAX_CHARS:
            return _error(413, f"At most {MAX_MESSAGES} messages and {MAX_CHARS:,} characters per request.",
                          "invalid_request_error")
        if not service.ready:
            return _error(503, f"The model is not ready yet ({service.status.state}: {service.status.message}).",
                          "server_error")
        system = "\n\n".join(m["content"] for m in messages if m["role"] == "system") or None
        turns = [m for m in messages if m["role"] in ("user", "assistant")]
        if not turns or turns[-1]["role"] != "user":
            return _error(400, "The last message must be the user's.", "invalid_request_error")
        lang = question_language(turns)
        kw = dict(system=system or system_prompt(lang),
                  max_new_tokens=int(body.get("max_tokens") or body.get("max_completion_tokens") or QA.max_new_tokens),
                  temperature=float(body.get("temperature", QA.temperature)),
                  top_p=float(body.get("top_p", QA.top_p)),
                  thinking_budget=int(body.get("thinking_budget", QA.thinking_budget)),
                  stop=[body["stop"]] if isinstance(body.get("stop"), str) else body.get("stop"),
                  seed=body.get("seed"))
        if kw["max_new_tokens"] < 1 or not 0 <= kw["temperature"] <= 2 or kw["thinking_budget"] < 0:
            return _error(400, "max_tokens must be >= 1, temperature 0-2, thinking_budget >= 0.", "invalid_request_error")
        flags = red_flags(turns[-1]["content"])
        notice = t("emergency", lang, flags=", ".join(t(f"flag.{f}", lang) for f in flags)) if flags else ""
        safety = {"red_flags": flags, "notice": notice, "model": service.describe()}
        cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        started = time.perf_counter()

        def audit(last):
            history.audit.record("api", text=turns[-1]["content"], model=service.describe(), flags=flags,
                                 seconds=round(time.perf_counter() - started, 2),
                                 tokens=last.generated_tokens if last else 0, finish=last.finish_reason if last else None)

        if not body.get("stream"):
            cancel = threading.Event()
            try:
                res = await asyncio.to_thread(lambda: service.engine.generate(turns, cancel=cancel, **kw))
            except Exception as e:  # the engine's own sentence (a remote server's error, a too-long prompt)
                return _error(502 if getattr(e, "code", None) else 400, str(e), "server_error")
            history.audit.record("api", text=turns[-1]["content"], model=service.describe(), flags=flags,
                                 seconds=round(time.perf_counter() - started, 2), tokens=res.generated_tokens,
                                 finish=res.finish_reason)
            content = (notice + "\n\n" if notice else "") + res.answer
            return {"id": cid, "object": "chat.completion", "created": created, "model": model_id(),
                    "choices": [{"index": 0, "finish_reason": FINISH.get(res.finish_reason, "stop"),
                                 "message": {"role": "assistant", "content": content,
                                             "reasoning_content": res.thinking or None}}],
                    "usage": usage(res),
                    "medassist": safety | {"think_end": res.think_end, "ttft_s": res.ttft_s,
                                           "tokens_per_s": round(res.tokens_per_s, 2)}}

        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return StreamingResponse(_sse(request, service, turns, kw, cid, created, model_id(), notice, safety,
                                      include_usage, audit),
                                 media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    return r


def _text(content) -> str:
    """A message's text: a string, or the text parts of a list of content parts (images are not read)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    if content is None:
        return ""
    raise ValueError("content")


def usage(r) -> dict:
    """OpenAI's usage object; cached_tokens: prompt tokens the engine did not read again (its kept KV state)."""
    return {"prompt_tokens": r.prompt_tokens, "completion_tokens": r.generated_tokens,
            "total_tokens": r.prompt_tokens + r.generated_tokens,
            "prompt_tokens_details": {"cached_tokens": getattr(r, "cached_tokens", 0)}}


async def _sse(request, service, turns, kw, cid, created, model, notice, safety, include_usage, audit):
    """Chunks as server-sent events. The engine runs in a thread; a client that goes away stops it."""
    def event(delta: dict | None = None, finish=None, **extra) -> str:
        payload = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                   "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]} | extra
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

    cancel = threading.Event()
    queue: asyncio.Queue = asyncio.Queue()
    loop = asyncio.get_running_loop()
    END = object()

    def produce():
        try:
            for c in service.engine.stream(turns, cancel=cancel, **kw):
                loop.call_soon_threadsafe(queue.put_nowait, c)
        except Exception as e:  # sent to the client as an error event, never a stack trace
            loop.call_soon_threadsafe(queue.put_nowait, e)
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, END)

    threading.Thread(target=produce, name="api-stream", daemon=True).start()
    last = None
    try:
        yield event({"role": "assistant", "content": ""}, medassist=safety)
        if notice:
            yield event({"content": notice + "\n\n"})
        while True:
            item = await queue.get()
            if item is END:
                break
            if isinstance(item, Exception):
                yield f"data: {json.dumps({'error': {'message': str(item), 'type': 'server_error'}})}\n\n"
                break
            last = item
            if item.text:
                key = "reasoning_content" if item.phase == "thinking" else "content"
                yield event({key: item.text})
            if await request.is_disconnected():
                cancel.set()
        if last is not None:
            yield event({}, FINISH.get(last.finish_reason, "stop"),
                        medassist=safety | {"think_end": last.think_end, "ttft_s": last.ttft_s,
                                            "tokens_per_s": round(last.tokens_per_s, 2)})
            if include_usage:
                yield event(None, usage=usage(last))
        yield "data: [DONE]\n\n"
    finally:
        cancel.set()  # the client left, or the stream ended: either way the model stops
        audit(last)
