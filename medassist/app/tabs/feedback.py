"""Feedback on Q&A answers, in the Q&A tab: 👍 / 👎 on any answer (the chat's own buttons) and a corrected answer
for the last one. Stored per account with the answer (store/feedback.py); exported as fine-tuning data with
`python -m medassist.store.feedback export FILE.jsonl`. The Settings tab shows how many are collected.
"""
# No `from __future__ import annotations`: Gradio finds the LikeData argument by its (evaluated) annotation.
from functools import partial

import gradio as gr

from medassist.app.i18n import lang_code, storage_error_text, t


def answer_number(chat: list, index: int) -> int | None:
    """Which answer of the conversation the chat's message `index` is (0 = the first), or None for a question
    or an index out of range. The chat shows a turn's reasoning panel and its answer as one group, whose rating
    arrives with the group's first index: the group's answer is the one rated."""
    def is_answer(m):
        return m.get("role") == "assistant" and not (m.get("metadata") or {}).get("title")

    if not 0 <= index < len(chat) or chat[index].get("role") != "assistant":
        return None
    while not is_answer(chat[index]) and index + 1 < len(chat) and chat[index + 1].get("role") == "assistant":
        index += 1
    return sum(is_answer(m) for m in chat[:index]) if is_answer(chat[index]) else None


def counts_markdown(history, lang: str) -> str:
    try:
        n = history.feedback.counts()
    except Exception as e:
        return "⚠️ " + storage_error_text(e, lang)
    return t("fb.count", lang, up=n["up"], down=n["down"], corrections=n["corrections"])


def on_like(history, state: dict, chat: list, lang_value: str, data: gr.LikeData) -> str:
    lang = lang_code(lang_value)
    if not isinstance(data.liked, bool):  # a rating taken back: nothing to store
        return ""
    index = data.index if isinstance(data.index, int) else data.index[0]
    k = answer_number(chat or [], index)
    if k is None:
        return t("fb.not_answer", lang)
    answers = state.get("answers", [])  # the stored id of each answer on screen (qa.new_state)
    try:
        ok = history.feedback.rate(answers[k] if k < len(answers) else None, 1 if data.liked else -1)
    except Exception as e:  # a full disk: the rating is lost, the page says so
        return "⚠️ " + storage_error_text(e, lang)
    return t("fb.saved", lang) + " " + counts_markdown(history, lang) if ok else t("fb.unsaved", lang)


def save_correction(history, state: dict, text: str, lang_value: str) -> tuple[str, str]:
    lang = lang_code(lang_value)
    if not (text or "").strip():
        return t("fb.empty", lang), text
    try:
        ok = history.feedback.rate((state.get("answers") or [None])[-1], correction=text)
    except Exception as e:
        return "⚠️ " + storage_error_text(e, lang), text
    if not ok:
        return t("fb.unsaved", lang), text
    return t("fb.corrected", lang) + " " + counts_markdown(history, lang), ""


def shown(history, state: dict):
    """The chat's 👍/👎 as stored for the conversation on screen. The buttons keep their own state in the page, so
    without this a 👍 stayed lit after a correction made it a 👎, and a new chat's first answer took the rating of
    the last chat's first answer once any had been set from here."""
    try:
        ratings = history.feedback.ratings((state or {}).get("answers", []))
    except Exception:  # storage trouble is said by the handler that hit it; the buttons just stay as they are
        return gr.skip()
    return gr.Chatbot(feedback_value=ratings)


def build(history, chat, state, lang: str, lang_radio) -> dict:
    """Under the chat: the correction box; the like buttons are the chat's own."""
    c: dict = {}
    with gr.Accordion(t("fb.title", lang), open=False, elem_id="feedback") as c["panel"]:
        c["correction"] = gr.Textbox(label=t("fb.correction", lang), lines=3, elem_id="correction",
                                     placeholder=t("fb.placeholder", lang))
        c["save"] = gr.Button(t("fb.save", lang), size="sm", elem_id="save-correction")
    c["note"] = gr.Markdown(elem_id="feedback-note")

    def like(state: dict, chat_value: list, lang_value: str, data: gr.LikeData) -> str:  # a plain function: Gradio
        return on_like(history, state, chat_value, lang_value, data)  # reads LikeData's annotation (not a partial's)

    # After every event that changes the chat or a rating: the buttons show what is stored (shown()).
    c["sync"] = dict(fn=partial(shown, history), inputs=[state], outputs=[chat], queue=False, show_progress="hidden")
    chat.like(like, inputs=[state, chat, lang_radio], outputs=[c["note"]], queue=False).then(**c["sync"])
    c["save"].click(partial(save_correction, history), inputs=[state, c["correction"], lang_radio],
                    outputs=[c["note"], c["correction"]], queue=False).then(**c["sync"])
    return c
