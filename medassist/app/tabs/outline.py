"""The Outline tab: a paper outline shaped by the matching reporting guideline (streamed, editable,
exported to Markdown and DOCX), reference suggestions from the user's own library (BibTeX / RIS),
and a check of a draft against the guideline. The logic lives in medassist.papers (outline, library,
draftcheck); these handlers stream it, store it and offer the downloads.

Handlers are plain functions/generators so tests drive them without a browser.
"""
from __future__ import annotations

import threading
import time
from functools import partial
from pathlib import Path

import gradio as gr

from medassist.papers import draftcheck
from medassist.papers.guidelines import STUDY_TYPES, all_guidelines, for_study_type
from medassist.store.history import History
from medassist.app.downloads import offer, forget_upload
from medassist.app.safe import no_remote
from medassist.app.i18n import t, lang_code, error_text, storage_error_text
from medassist.papers.bibio import parse_bibtex, parse_ris, to_bibtex, to_ris
from medassist.papers.library import Library
from medassist.store.exports import EXPORT_MARK
from medassist.papers.pdfread import PdfError
from medassist.papers.textread import read_paper
from medassist.store.safety import redact
from medassist.papers.outline import generate, suggest_references, to_docx

UPDATE_S = 0.1


def run_outline(service, history: History, topic, study_type, journal, lang_value, state, library=None):
    lang = lang_code(lang_value)
    topic = (topic or "").strip()
    if not topic:
        yield gr.update(), t("out.need_topic", lang), state
        return
    if not service.ready:
        yield gr.update(), t("not_ready", lang), state
        return
    state["cancel"] = cancel = threading.Event()
    started, last, text = time.perf_counter(), 0.0, ""
    try:
        for text in generate(service, topic, study_type, journal or "", lang, cancel, library=library):
            if time.perf_counter() - last > UPDATE_S:
                last = time.perf_counter()
                yield text, t("out.writing", lang), state
    except Exception as e:
        yield gr.update(), "⚠️ " + error_text(e, lang), state
        return
    try:  # the outline is on screen: a full disk or a locked database must not take it away
        history.save_turn(None, f"📝 {topic}", topic, text, meta={"kind": "outline", "study_type": study_type})
        history.audit.record("outline", text=topic, model=service.describe(),
                             seconds=round(time.perf_counter() - started, 2))
    except Exception as e:
        yield text, "⚠️ " + storage_error_text(e, lang), state
        return
    yield text, t("out.done", lang), state


def export_outline(history: History, text: str, kind: str, lang_value: str = "English"):
    """The edited outline as a Markdown or DOCX download (a private temp file), redacted."""
    if not (text or "").strip():
        return gr.update(visible=False)
    text = redact(text) + EXPORT_MARK
    if kind == "docx":
        update = offer(lambda: to_docx(text, history.downloads.path_for("outline.docx")), lang_code(lang_value))
    else:
        update = offer(lambda: history.downloads.write(f"outline.{kind}", text), lang_code(lang_value))
    if update.get("visible"):
        history.audit.record("export", format=f"outline-{kind}")
    return update


def add_to_library(library: Library, cfg, files, lang_value) -> str:
    lang = lang_code(lang_value)
    notes = []
    for f in files or []:
        name = Path(f).name
        try:
            if name.lower().endswith((".bib", ".ris")):
                text = Path(f).read_text(encoding="utf-8", errors="replace")
                entries = parse_bibtex(text) if name.lower().endswith(".bib") else parse_ris(text)
                notes.append(t("out.added", lang, name=name, n=library.add(entries)))
            else:
                paper = read_paper(f, max_pages=cfg.max_pdf_pages, max_mb=cfg.max_pdf_mb, timeout=cfg.pdf_timeout_s)
                notes.append(t("out.added", lang, name=name, n=library.add_paper(paper, name)))
        except (PdfError, OSError) as e:
            notes.append(f"⚠️ {name}: {e}")
        forget_upload(f)  # read: it leaves Gradio's upload cache
    notes.append(t("out.library_size", lang, n=len(library.entries())))
    return "  \n".join(notes)


def suggestions_update(library: Library, text: str, lang_value: str):
    lang = lang_code(lang_value)
    rows = suggest_references(library, text or "")
    if not rows:
        return gr.update(choices=[], value=[]), t("out.no_suggestions", lang)
    choices = [(f"{r['section']} · {r['entry'].cite()} — {t('out.because', lang)} “{r['reason'][:90]}” ({r['score']})",
                r["entry"].id) for r in rows]
    return gr.update(choices=choices, value=[c[1] for c in choices]), ""


def export_refs(library: Library, history: History, ids, kind: str, lang_value: str = "English"):
    entries = library.get(ids or [])
    if not entries:
        return gr.update(visible=False)
    text = to_bibtex(entries) if kind == "bib" else to_ris(entries)
    return offer(lambda: history.downloads.write(f"references.{kind}", text), lang_code(lang_value))


def check_draft(service, history: History, text, file, guideline_name, lang_value):
    """The report is in English, like the checklist items; lang_value is for the messages around it."""
    g = all_guidelines()[guideline_name]
    try:
        cfg = service.cfg  # the upload limits every PDF gets (max_pdf_mb, max_pdf_pages, pdf_timeout_s)
        draft = draftcheck.read_draft(file, max_pages=cfg.max_pdf_pages, max_mb=cfg.max_pdf_mb,
                                      timeout=cfg.pdf_timeout_s) if file else (text or "")
        items, gaps = draftcheck.check_draft(draft, g, service.embedder())
    except PdfError as e:
        return "⚠️ " + str(e), gr.update(visible=False)
    report = redact(draftcheck.to_markdown(items, gaps, g)) + EXPORT_MARK  # it quotes the draft
    history.audit.record("draft_check", text=draft, guideline=g.name,
                         missing=sum(r.status == "missing" for r in items), gaps=len(gaps))
    return no_remote(report), offer(lambda: history.downloads.write(f"draft-check-{g.name.lower()}.md", report),
                         lang_code(lang_value))


def build_tab(service, history: History, library: Library, cfg, lang: str, lang_radio) -> dict:
    c: dict = {}
    state = gr.State(lambda: {"cancel": threading.Event()})
    types = [(STUDY_TYPES[k][1 if lang == "zh" else 0], k) for k in STUDY_TYPES]
    with gr.Row():
        with gr.Column(scale=1, min_width=260):
            c["topic"] = gr.Textbox(label=t("out.topic", lang), lines=3, elem_id="out-topic")
            c["type"] = gr.Dropdown(types, value="rct", label=t("out.type", lang), elem_id="out-type")
            c["journal"] = gr.Textbox(label=t("out.journal", lang), elem_id="out-journal")
            with gr.Row():
                c["run"] = gr.Button(t("out.generate", lang), variant="primary", elem_id="out-run")
                c["stop"] = gr.Button(t("stop", lang), variant="stop", elem_id="out-stop")
            c["status"] = gr.Markdown(elem_id="out-status")
            with gr.Row():
                c["md_btn"] = gr.Button(t("out.export_md", lang), size="sm", elem_id="out-md-btn")
                c["docx_btn"] = gr.Button(t("out.export_docx", lang), size="sm", elem_id="out-docx-btn")
            c["file"] = gr.File(label=t("download", lang), visible=False, elem_id="out-file")
        with gr.Column(scale=3):
            c["outline"] = gr.Textbox(label=t("out.outline", lang), lines=22, interactive=True, elem_id="out-outline")
    with gr.Accordion(t("out.refs", lang), open=False) as c["refs_acc"]:
        c["lib_files"] = gr.File(label=t("out.library_upload", lang), file_count="multiple",
                                 file_types=[".pdf", ".bib", ".ris"], type="filepath", elem_id="out-lib-files")
        c["lib_status"] = gr.Markdown(t("out.library_size", lang, n=len(library.entries())), elem_id="out-lib-status")
        c["suggest"] = gr.Button(t("out.suggest", lang), elem_id="out-suggest")
        c["suggestions"] = gr.CheckboxGroup(label=t("out.suggestions", lang), elem_id="out-suggestions")
        c["sugg_note"] = gr.Markdown()
        with gr.Row():
            c["bib"] = gr.Button("BibTeX", size="sm", elem_id="out-bib")
            c["ris"] = gr.Button("RIS", size="sm", elem_id="out-ris")
        c["ref_file"] = gr.File(label=t("download", lang), visible=False, elem_id="out-ref-file")
    with gr.Accordion(t("out.check", lang), open=False) as c["check_acc"]:
        c["guideline"] = gr.Dropdown(sorted(all_guidelines()), value="CONSORT", label=t("out.guideline", lang),
                                     elem_id="out-guideline")
        c["draft"] = gr.Textbox(label=t("out.draft", lang), lines=8, elem_id="out-draft")
        c["draft_file"] = gr.File(label=t("out.draft_file", lang), file_types=[".txt", ".md", ".docx", ".pdf"],
                                  type="filepath", elem_id="out-draft-file")
        c["check"] = gr.Button(t("out.check_button", lang), elem_id="out-check")
        c["report"] = gr.Markdown(elem_id="out-report")
        c["report_file"] = gr.File(label=t("download", lang), visible=False, elem_id="out-report-file")

    c["run"].click(partial(run_outline, service, history, library=library), inputs=[c["topic"], c["type"], c["journal"], lang_radio, state],
                   outputs=[c["outline"], c["status"], state], concurrency_limit=1, concurrency_id="model",
                   show_progress="minimal")  # the text streams and the status says "writing": no animated overlay
    c["stop"].click(lambda st: st["cancel"].set(), inputs=[state], queue=False)
    c["type"].change(lambda st: for_study_type(st).name, inputs=[c["type"]], outputs=[c["guideline"]], queue=False)
    c["md_btn"].click(lambda text, lv: export_outline(history, text, "md", lv), inputs=[c["outline"], lang_radio],
                      outputs=[c["file"]])
    c["docx_btn"].click(lambda text, lv: export_outline(history, text, "docx", lv), inputs=[c["outline"], lang_radio],
                        outputs=[c["file"]])
    c["lib_files"].upload(partial(add_to_library, library, cfg), inputs=[c["lib_files"], lang_radio],
                          outputs=[c["lib_status"]], concurrency_limit=1, concurrency_id="pdf")
    c["suggest"].click(partial(suggestions_update, library), inputs=[c["outline"], lang_radio],
                       outputs=[c["suggestions"], c["sugg_note"]])
    c["bib"].click(lambda ids, lv: export_refs(library, history, ids, "bib", lv), inputs=[c["suggestions"], lang_radio],
                   outputs=[c["ref_file"]])
    c["ris"].click(lambda ids, lv: export_refs(library, history, ids, "ris", lv), inputs=[c["suggestions"], lang_radio],
                   outputs=[c["ref_file"]])
    c["check"].click(partial(check_draft, service, history), outputs=[c["report"], c["report_file"]],
                     inputs=[c["draft"], c["draft_file"], c["guideline"], lang_radio], concurrency_limit=2)
    return c
