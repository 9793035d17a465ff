"""The Q&A tab: streaming chat with a collapsible reasoning panel, stop, regenerate, history, export.

Handlers are plain generator functions over (chat, state, ...) so tests can drive them without a browser.
State per browser session: {"cid": conversation id, "messages": model-side turns, "cancel": Event}.
"""
from __future__ import annotations

import html
import re
import sqlite3
import threading
import time
from functools import partial

import gradio as gr

from medassist.model import chat as chat_format
from medassist.store.history import History
from medassist.app.downloads import offer
from medassist.app.safe import no_remote
from medassist.app.i18n import EXAMPLES, t, lang_code, error_text, storage_error_text
from medassist.store.safety import red_flags
from medassist.app.service import ModelService
from medassist.app.tabs import feedback
from medassist.papers.sources import CITATION, NO_SOURCE, UNCHECKED, check_answer, label, question_with_sources
from medassist.papers.reference import ATTRIBUTION

MAX_QUESTION_CHARS = 8000
# A citation is a button; the sources list closes the same message. The page's sanitiser keeps <button> and
# <details> but drops data- attributes, so the click handler (SOURCES_JS) finds the source by its number.
SOURCES_JS = """
() => { if (window.__medassistSources) return; window.__medassistSources = true;
  document.addEventListener('click', (e) => {
    const b = e.target.closest('#chat button.src-cite'); if (!b) return;
    const msg = b.closest('.message-content') || b.parentElement; const box = msg && msg.querySelector('details.sources');
    if (!box) return; box.open = true;
    box.querySelectorAll('li').forEach((li, i) => li.classList.toggle('hit', String(i + 1) === b.textContent.trim()));
    const li = box.querySelectorAll('li')[Number(b.textContent) - 1]; if (li) li.scrollIntoView({block: 'nearest'});
  });
}
"""


def new_state() -> dict:
    """cid: the saved conversation; messages: the model-side turns (sources included); questions: as asked;
    answers: the stored id of each answer the chat shows (None: an error, or not saved), for its 👍/👎."""
    return {"cid": None, "messages": [], "questions": [], "answers": [], "cancel": threading.Event()}


def emergency_banner(question: str, lang: str) -> str:
    flags = red_flags(question)
    if not flags:
        return ""
    return t("emergency", lang, flags=", ".join(t(f"flag.{f}", lang) for f in flags))


def source_record(hits) -> list[dict]:
    """What the page, history and exports keep of each passage shown to the model."""
    return [{"label": label(h), "url": h.url, "text": h.text, "origin": h.origin} for h in hits]


def render_answer(text: str, sources: list[dict], lang: str, no_source: bool = False, flagged=(),
                  checkable: bool = True, stated=None) -> str:
    """The answer with its [n] citations as buttons, then its sources (names and URLs as text: nothing is fetched).
    stated: (sentences a source states, sentences checked, whether the claim-level judge checked them)."""
    body = CITATION.sub(lambda m: " ".join(f'<button class="src-cite">{n}</button>'
                                            for n in re.findall(r"\d+", m.group(1))), no_remote(text))
    key = "zh" if lang == "zh" else "en"
    parts = [f"*{NO_SOURCE[key]}*\n\n{body}" if no_source else body]
    if not checkable and sources:
        parts.append(f"*{UNCHECKED[key]}*")
    if flagged:
        parts.append("⚠️ " + t("src.numbers", lang, numbers=", ".join(flagged)))
    if stated and checkable and not no_source:
        parts.append(t("src.stated" if stated[2] else "src.similar", lang, n=stated[0], total=stated[1]))
    if sources:
        items = "".join(f"<li><b>{html.escape(s['label'])}</b>"
                        + (f" <code>{html.escape(s['url'])}</code>" if s.get("url") else "")
                        + f"<br>{html.escape(s['text'])}</li>" for s in sources)
        credit = f" · {ATTRIBUTION}" if any(s["origin"] == "reference" for s in sources) else ""
        parts.append(f'<details class="sources"><summary>{t("src.title", lang, n=len(sources))}{html.escape(credit)}'
                     f"</summary><ol>{items}</ol></details>")
    return "\n\n".join(parts)


def respond(service: ModelService, history: History, question: str, chat: list, state: dict,
            budget: int, temperature: float, max_len: int, lang_value: str, repetition_penalty: float | None = None,
            use_sources: bool = False, finder=None):
    """Yields (chat, question box, banner, stats, state) as the answer streams. finder: question -> the passages
    to answer from (papers.sources.gather over the reference and the library), used when use_sources is on."""
    lang = lang_code(lang_value)
    question = (question or "").strip()
    chat = list(chat or [])
    if not question:
        gr.Warning(t("empty", lang))
        yield chat, "", gr.update(), "", state
        return
    if len(question) > MAX_QUESTION_CHARS:
        gr.Warning(t("too_long", lang, n=len(question), limit=MAX_QUESTION_CHARS))
        yield chat, question, gr.update(), "", state  # keep the text: nothing the user typed is lost
        return
    banner = emergency_banner(question, lang)
    banner_update = gr.update(value=banner, visible=bool(banner))
    chat.append({"role": "user", "content": no_remote(question)})
    if not service.ready:
        chat.append({"role": "assistant", "content": t("not_ready", lang)})
        state["answers"] = state.get("answers", []) + [None]
        yield chat, question, banner_update, "", state
        return

    if state["cid"] is not None and not history.exists(state["cid"]):
        # Deleted (here or in another tab): its text must not go to the model again; start afresh.
        state.update(cid=None, messages=[], questions=[], answers=[])
        chat = [{"role": "user", "content": no_remote(question)}]
    state["cancel"] = cancel = threading.Event()
    # MedAssist's system prompt in the question's language (the fine-tuned model answers a Chinese
    # question in English under the English prompt, README "Limits").
    q_lang = chat_format.question_language([{"role": "user", "content": question}])
    hits = []
    if use_sources and finder is not None:
        try:
            hits = finder(question)
        except Exception as e:  # the answer goes on without sources, and says so
            print(f"[sources] search failed: {type(e).__name__}", flush=True)
    messages = state["messages"] + [{"role": "user", "content": question_with_sources(question, hits, q_lang)}]
    thought = {"role": "assistant", "content": "", "metadata": {"title": t("reasoning", lang), "status": "pending"}}
    answer = {"role": "assistant", "content": ""}
    chat.append(thought)
    yield chat, "", banner_update, "", state
    started, last_yield, last, shown = time.perf_counter(), 0.0, None, False
    interval = service.cfg.stream_interval_s  # the first token is shown at once
    raw_thought, raw_answer = "", ""  # as the model wrote them; the page shows them through no_remote
    try:
        system = chat_format.system_prompt(q_lang)
        for c in service.stream(messages, system=system, thinking_budget=int(budget), temperature=float(temperature),
                                max_new_tokens=int(max_len), cancel=cancel,
                                repetition_penalty=float(repetition_penalty or service.cfg.repetition_penalty)):
            last = c
            if c.phase == "thinking":
                raw_thought += c.text
                thought["content"] = no_remote(raw_thought)
            elif c.text:
                if not shown:
                    shown = True
                    thought["metadata"] = {**thought["metadata"], "status": "done",
                                           "duration": round(time.perf_counter() - started, 1)}
                    chat.append(answer)
                raw_answer += c.text
                answer["content"] = no_remote(raw_answer)
            if time.perf_counter() - last_yield > interval:
                last_yield = time.perf_counter()
                yield chat, "", banner_update, "", state
    except Exception as e:  # a clear message, never a stack trace
        chat.append({"role": "assistant", "content": error_text(e, lang)})
        state["answers"] = state.get("answers", []) + [None]
        yield chat, question, banner_update, "", state
        return
    thought["metadata"] = {**thought["metadata"], "status": "done",
                           "duration": thought["metadata"].get("duration", round(time.perf_counter() - started, 1))}
    if last and last.think_end in ("loop", "budget") and thought["content"]:
        thought["content"] += "\n\n" + t(f"think.{last.think_end}", lang)  # say why the reasoning ends abruptly
    if not thought["content"]:
        chat = [m for m in chat if m is not thought]
    if last and last.finish_reason == "cancelled":
        answer["content"] = (answer["content"] + " " + t("stopped", lang)).strip()
    if not shown:
        chat.append(answer)
    saved, meta = answer["content"], {}
    if use_sources:
        if hits and q_lang != "zh":  # the judge reads each sentence against its passage: a few seconds
            yield chat, "", banner_update, t("qa.checking", lang), state
        checked = check_answer(raw_answer, hits, question, service.embedder() if hits else None, q_lang,
                               judge=service)  # judged only where there are passages
        flagged = sorted({n for s in checked.sentences for n in s["missing"]})
        sources = source_record(hits)
        stopped = (" " + t("stopped", lang)) if last and last.finish_reason == "cancelled" else ""
        saved = checked.text + stopped
        stated = [sum(x["supported"] for x in checked.sentences), len(checked.sentences),
                  any("judge" in x for x in checked.sentences)]
        answer["content"] = render_answer(saved, sources, lang, checked.no_source, flagged, checked.checkable, stated)
        meta = {"sources": sources, "no_source": checked.no_source, "supported_share": checked.supported_share,
                "checkable": checked.checkable, "stated": stated,
                "numbers_not_in_sources": flagged}
    stats = t("stats", lang, ttft=last.ttft_s or 0.0, rate=last.tokens_per_s, n=last.generated_tokens) if last else ""
    # The model's own words, reasoning included: the engine then reads only the next question (and a "stopped"
    # label or a display rewrite never reaches the model).
    state["messages"] = messages + [{"role": "assistant", "content": chat_format.assistant_turn(raw_thought, raw_answer)}]
    state["questions"] = state.get("questions", []) + [question]
    answer_id = None  # stays None where the turn could not be stored: that answer cannot be rated
    try:
        state["cid"] = history.save_turn(state["cid"], question, question, saved, thought["content"],
                                         meta={**meta, **({"ttft_s": last.ttft_s, "tokens_per_s": last.tokens_per_s,
                                                           "tokens": last.generated_tokens, "finish": last.finish_reason,
                                                           "model": service.describe()} if last else {})})
        answer_id = (history.feedback.answer_ids(state["cid"]) or [None])[-1]
        history.audit.record("ask", text=question, model=service.describe(), conversation=state["cid"],
                             flags=red_flags(question), seconds=round(time.perf_counter() - started, 2),
                             **({"ttft_s": round(last.ttft_s or 0, 3), "tokens": last.generated_tokens,
                                 "tokens_per_s": round(last.tokens_per_s, 1), "finish": last.finish_reason} if last else {}))
    except Exception as e:  # disk full, database locked: the answer stays on screen
        stats = "⚠️ " + storage_error_text(e, lang)
    state["answers"] = state.get("answers", []) + [answer_id]
    yield chat, "", banner_update, stats, state


def stop(state: dict) -> None:
    state["cancel"].set()


def regenerate(service, history, chat, state, budget, temperature, max_len, lang_value, repetition_penalty=None,
               use_sources=False, finder=None):
    """Drop the last answer and ask its question again."""
    chat = list(chat or [])
    users = [i for i, m in enumerate(chat) if m["role"] == "user"]
    questions = state.get("questions", [])
    if not users:
        yield chat, "", gr.update(), "", state
        return
    if len(questions) >= len(users) and state["messages"]:
        # The question as it was asked (the page returns a message's content as a list of parts, and shows it
        # rewritten; the model-side turn may carry the sources in front of it).
        question = questions[-1]
        state["messages"] = state["messages"][:-2]
        state["questions"] = questions[:-1]
    else:  # the last question got an error, not an answer: it never joined the turns; ask it again as shown
        content = chat[users[-1]]["content"]
        question = content if isinstance(content, str) else " ".join(
            part.get("text", "") for part in content if isinstance(part, dict))
    chat = chat[: users[-1]]
    state["answers"] = state.get("answers", [])[:-1]  # the new answer takes its place (both stay stored)
    yield from respond(service, history, question, chat, state, budget, temperature, max_len, lang_value,
                       repetition_penalty, use_sources, finder)


def conversation_choices(history: History, query: str = "") -> list[tuple[str, int]]:
    return [(f"{time.strftime('%m-%d %H:%M', time.localtime(c['updated']))}  {c['title']}", c["id"])
            for c in history.conversations(query)]


def open_conversation(history: History, cid, lang_value: str = "English"):
    state = new_state()
    if cid is None:
        return [], state
    chat = []
    for m in history.messages(int(cid)):
        if m["thinking"]:
            chat.append({"role": "assistant", "content": no_remote(m["thinking"]),
                         "metadata": {"title": t("reasoning", lang_code(lang_value)), "status": "done"}})
        meta = m.get("meta") or {}
        shown = render_answer(m["content"], meta["sources"], lang_code(lang_value), meta.get("no_source", False),
                              meta.get("numbers_not_in_sources", ()), meta.get("checkable", True), meta.get("stated")) \
            if meta.get("sources") is not None \
            else no_remote(m["content"])
        chat.append({"role": m["role"], "content": shown})
        state["messages"].append({"role": m["role"], "content": chat_format.assistant_turn(m["thinking"] or "",
                                                                                             m["content"])
                                  if m["role"] == "assistant" else m["content"]})
    state["questions"] = [m["content"] for m in history.messages(int(cid)) if m["role"] == "user"]
    state["cid"] = int(cid)
    state["answers"] = history.feedback.answer_ids(int(cid))
    return chat, state


def delete_conversation(history: History, cid, chat: list, state: dict, lang_value: str = "English"):
    """Delete a saved conversation; the one on screen is cleared with it, so nothing deleted is sent again."""
    if cid is None:
        return chat, state
    try:
        history.delete(int(cid))
    except (sqlite3.Error, OSError) as e:
        gr.Warning(storage_error_text(e, lang_code(lang_value)))
        return chat, state
    if state.get("cid") == int(cid):
        state["cancel"].set()  # an answer still streaming into it stops too
        return [], new_state()
    return chat, state


def export_conversation(history: History, cid, state: dict, lang_value: str):
    cid = cid if cid is not None else state.get("cid")
    if cid is None:
        gr.Warning(t("nothing_to_export", lang_code(lang_value)))
        return gr.update(visible=False)
    return offer(lambda: history.export(int(cid)), lang_code(lang_value))


def build_tab(service: ModelService, history: History, cfg, lang: str, lang_radio, finder=None) -> dict:
    """Lay out the Q&A tab and wire its events; returns components whose labels follow the language.
    finder: question -> passages (the Sources switch shows only with one)."""
    c: dict = {}
    state = gr.State(new_state)
    c["banner"] = gr.Markdown(visible=False, elem_id="emergency-banner", elem_classes=["emergency"])
    c["chat"] = gr.Chatbot(label=t("tab.qa", lang), height=480, elem_id="chat", buttons=["copy", "copy_all"])
    with gr.Row():
        c["question"] = gr.Textbox(label=t("question", lang), placeholder=t("placeholder", lang), lines=2, scale=8,
                                   elem_id="question", max_length=MAX_QUESTION_CHARS)
        with gr.Column(scale=1, min_width=120):
            c["send"] = gr.Button(t("send", lang), variant="primary", elem_id="send")
            c["stop"] = gr.Button(t("stop", lang), variant="stop", elem_id="stop")
    with gr.Row():
        c["sources"] = gr.Checkbox(value=bool(finder) and cfg.sources, label=t("src.switch", lang),
                                   info=t("src.info", lang), visible=finder is not None, elem_id="sources", scale=3)
        c["new_chat"] = gr.Button(t("new_chat", lang), size="sm", elem_id="new-chat")
        c["regenerate"] = gr.Button(t("regenerate", lang), size="sm", elem_id="regenerate")
        c["stats"] = gr.Markdown(elem_id="stats")
    with gr.Accordion(t("controls", lang), open=False) as c["controls"]:
        c["budget"] = gr.Slider(0, 4096, value=cfg.thinking_budget, step=16, label=t("budget", lang))
        c["temperature"] = gr.Slider(0.0, 1.5, value=cfg.temperature, step=0.05, label=t("temperature", lang))
        c["max_len"] = gr.Slider(16, 4096, value=cfg.max_new_tokens, step=16, label=t("max_len", lang))
        c["penalty"] = gr.Slider(1.0, 1.5, value=cfg.repetition_penalty, step=0.05, label=t("penalty", lang),
                                 elem_id="repetition-penalty")
    c["feedback"] = feedback.build(history, c["chat"], state, lang, lang_radio)
    gr.Examples(EXAMPLES, inputs=[c["question"]], label=t("examples", lang))
    with gr.Accordion(t("history", lang), open=False, elem_id="history") as c["history"]:
        c["search"] = gr.Textbox(label=t("search", lang), elem_id="history-search")
        # value=None: Gradio would otherwise pre-select the newest conversation, and Export or Delete without a
        # choice would act on it rather than on the conversation on screen.
        c["conversations"] = gr.Dropdown(choices=conversation_choices(history), value=None,
                                         label=t("conversations", lang), elem_id="conversations", interactive=True)
        with gr.Row():
            c["open"] = gr.Button(t("open", lang), size="sm", elem_id="history-open")
            c["delete"] = gr.Button(t("delete", lang), size="sm", variant="stop", elem_id="history-delete")
            c["export"] = gr.Button(t("export", lang), size="sm", elem_id="history-export")
        c["file"] = gr.File(label=t("download", lang), visible=False, elem_id="export-file")

    settings = [c["budget"], c["temperature"], c["max_len"], lang_radio, c["penalty"], c["sources"]]
    outputs = [c["chat"], c["question"], c["banner"], c["stats"], state]
    refresh = dict(fn=lambda q: gr.update(choices=conversation_choices(history, q or "")),
                   inputs=[c["search"]], outputs=[c["conversations"]], queue=False)
    # One model on a CPU: every model call shares one queue slot; Gradio shows each user's position.
    # show_progress="minimal": the full overlay's animation on five outputs cost the browser ~1.9x the CPU
    # (measured with the page interval, benchmarks/page_latency.py), taken from the model on a 2-core laptop.
    ask = dict(fn=partial(respond, service, history, finder=finder), inputs=[c["question"], c["chat"], state, *settings],
               outputs=outputs, concurrency_limit=1, concurrency_id="model", show_progress="minimal")
    sync = c["feedback"]["sync"]  # the 👍/👎 shown as stored for whatever the chat now shows
    c["send"].click(**ask).then(**refresh).then(**sync)
    c["question"].submit(**ask).then(**refresh).then(**sync)
    c["regenerate"].click(fn=partial(regenerate, service, history, finder=finder),
                          inputs=[c["chat"], state, *settings], outputs=outputs, show_progress="minimal",
                          concurrency_limit=1, concurrency_id="model").then(**refresh).then(**sync)
    c["stop"].click(fn=stop, inputs=[state], queue=False)
    c["new_chat"].click(fn=lambda: ([], new_state(), "", gr.update(visible=False)),
                        outputs=[c["chat"], state, c["stats"], c["banner"]], queue=False).then(**sync)
    c["search"].change(**refresh)
    c["history"].expand(**refresh)  # the list built at start-up is stale for a page opened later
    c["open"].click(fn=lambda cid, lv: open_conversation(history, cid, lv), inputs=[c["conversations"], lang_radio],
                    outputs=[c["chat"], state], queue=False).then(**sync)
    c["delete"].click(fn=lambda cid, ch, st, lv: delete_conversation(history, cid, ch, st, lv),
                      inputs=[c["conversations"], c["chat"], state, lang_radio], outputs=[c["chat"], state],
                      queue=False).then(**refresh).then(**sync)
    c["export"].click(fn=lambda cid, st, lv: export_conversation(history, cid, st, lv),
                      inputs=[c["conversations"], state, lang_radio], outputs=[c["file"]], queue=False)
    c["state"] = state
    return c
