"""The Literature tab: upload one paper or several (PDF, Word, text, Markdown), get a cited structured summary of
each, click a citation to see its passage, download Markdown / JSON, and ask questions answered from the picked
paper's own passages.

Handlers are plain generators over (files, state, ...) so tests drive them without a browser. State per
browser session: new_state().
Summaries are saved in History as a conversation (redacted, searchable, exportable like Q&A).
"""
from __future__ import annotations

import html
import json
import os
import threading
import time
from functools import partial
from pathlib import Path

import gradio as gr

from medassist.store.exports import EXPORT_MARK
from medassist.papers.factcheck import NumberGuard
from medassist.store.history import History
from medassist.app.downloads import forget_upload
from medassist.app.i18n import t, lang_code, error_text, storage_error_text
from medassist.papers.passages import PaperIndex
from medassist.papers.pdfread import PdfError
from medassist.papers.textread import PAPER_TYPES, read_paper
from medassist.store.safety import redact
from medassist.app.service import ModelService
from medassist.papers.summarize import SummaryConfig, answer_question, summarize, to_markdown
from medassist.papers import prompts as P
from medassist.app.tabs.paperview import CITE_JS, render_answer, render_summary, text_bar

UPDATE_S = 0.1
ASK_TOKENS = 300


def new_state() -> dict:
    """papers: every file read this session ({path, name, index, summary, facts, cid, exports}); index, summary,
    name, path and cid: the one shown and asked about (select)."""
    return {"papers": [], "index": None, "summary": None, "name": "", "path": None, "cid": None,
            "cancel": threading.Event()}


def check_upload(path: str | None, cfg, lang: str) -> str:
    """The upload's path, or PdfError with a message for the user."""
    if not path:
        raise PdfError(t("lit.no_file", lang))
    if Path(path).suffix.lower() not in PAPER_TYPES:
        raise PdfError(t("lit.not_pdf", lang, name=Path(path).name))
    mb = os.path.getsize(path) / 2**20
    if mb > cfg.max_pdf_mb:
        raise PdfError(t("lit.too_big", lang, mb=round(mb, 1), limit=cfg.max_pdf_mb))
    return str(path)


def _paths(files) -> list[str]:
    """Gradio's File gives None, a path, or a list of paths (several files chosen at once)."""
    if not files:
        return []
    return [str(f) for f in (files if isinstance(files, (list, tuple)) else [files]) if f]


def select(state: dict, k: int) -> dict:
    """Make the k-th loaded paper the one shown and asked about (its summary and conversation come with it)."""
    for p in state["papers"]:
        if p["path"] == state.get("path"):
            p["cid"] = state.get("cid")  # questions asked meanwhile joined the current paper's conversation
    p = state["papers"][k]
    state.update(index=p["index"], name=p["name"], path=p["path"], summary=p["summary"], cid=p["cid"])
    return state


def _read_one(service: ModelService, cfg, path: str, lang: str, library) -> dict:
    """Read and index one uploaded file; it and its references join the library. Raises PdfError."""
    path = check_upload(path, cfg, lang)
    paper = read_paper(path, max_pages=cfg.max_pdf_pages, max_mb=cfg.max_pdf_mb, timeout=cfg.pdf_timeout_s)
    index = PaperIndex.build(paper, service.embedder())
    entry = {"path": path, "name": Path(path).name, "index": index, "summary": None, "facts": None, "cid": None,
             "exports": None}
    if library is not None:
        try:
            library.add_paper(paper, entry["name"], index)
        except Exception as e:  # the library is a convenience: the paper itself is still usable
            print(f"[library] could not add an uploaded paper: {type(e).__name__}", flush=True)  # no file name: PHI
    forget_upload(path)  # read and indexed: the file itself leaves Gradio's upload cache
    return entry


def load_paper(service: ModelService, cfg, files, ui_lang: str, state: dict, library=None) -> tuple[str, dict]:
    """Read and index the uploaded file(s) (once each: a file already read this session is kept); a file that
    cannot be read is named with its reason and the others are still read."""
    lang = lang_code(ui_lang)
    paths = _paths(files)
    known = {p["path"]: p for p in state.get("papers", [])}
    papers, problems = [], []
    for path in paths or [None]:
        if path in known:
            papers.append(known[path])
            continue
        try:
            papers.append(_read_one(service, cfg, path, lang, library))
        except Exception as e:  # a clear message, never a stack trace
            msg = str(e) if isinstance(e, PdfError) else error_text(e, lang)
            named = len(paths) < 2 or Path(path).name in msg
            problems.append("⚠️ " + ("" if named else f"{Path(path).name}: ") + msg)
    state["papers"] = papers
    if not papers:
        state.update(index=None, summary=None, name="", path=None, cid=None)
        return "  \n".join(problems), state
    current = next((k for k, p in enumerate(papers) if p["path"] == state.get("path")), 0)
    select(state, current)
    if len(papers) == 1:
        head = t("lit.loaded", lang, pages=papers[0]["index"].paper.pages, name=papers[0]["name"])
    else:
        head = t("lit.loaded_many", lang, n=len(papers), names=", ".join(p["name"] for p in papers))
    return "  \n".join([head] + problems), state


def picker(state: dict):
    """The paper picker: shown once several papers are loaded, on the current one."""
    papers = state.get("papers", [])
    current = next((k for k, p in enumerate(papers) if p["path"] == state.get("path")), None)
    return gr.update(choices=[(p["name"], k) for k, p in enumerate(papers)], value=current, visible=len(papers) > 1)


def show_paper(k, summary_lang: str, ui_lang: str, state: dict):
    """The picked paper: its summary (if written this session) and its downloads; returns like run_summary."""
    none = gr.update(visible=False)
    if k is None or not 0 <= int(k) < len(state.get("papers", [])):
        return gr.update(), gr.update(), none, none, state
    entry = state["papers"][int(k)]
    select(state, int(k))
    status = t("lit.showing", lang_code(ui_lang), name=entry["name"], pages=entry["index"].paper.pages)
    s = entry["summary"]
    if s is None:
        return status, render_summary(entry["index"], {}, lang_code(summary_lang)), none, none, state
    view = render_summary(entry["index"], s.fields, s.lang, dropped=s.dropped, stats=s.stats, facts=entry["facts"],
                          notices=s.notices)
    md, js = entry["exports"] or (None, None)
    return (status, view, gr.update(value=str(md), visible=True) if md else none,
            gr.update(value=str(js), visible=True) if js else none, state)


def run_summary(service: ModelService, history: History, cfg, files, summary_lang: str, ui_lang: str, state: dict,
                progress=gr.Progress(), library=None):
    """Yields (status, summary HTML, Markdown file, JSON file, state) as the summaries are written: every
    uploaded paper in turn, each shown as it is written and saved as its own conversation."""
    lang = lang_code(ui_lang)
    none = gr.update(visible=False)
    state["cancel"] = threading.Event()  # a Stop pressed during an earlier run does not stop this one
    progress(0.02, desc=t("lit.reading", lang))
    yield t("lit.reading", lang), gr.update(), none, none, state
    status, state = load_paper(service, cfg, files, ui_lang, state, library)
    if state["index"] is None:
        yield status, gr.update(), none, none, state
        return
    problems = [line for line in status.split("  \n") if line.startswith("⚠️")]
    if not service.ready:
        yield t("not_ready", lang), render_summary(state["index"], {}, lang_code(summary_lang)), none, none, state
        return
    papers, out = state["papers"], None
    for k in range(len(papers)):
        select(state, k)
        head = f"({k + 1}/{len(papers)}) {papers[k]['name']} · " if len(papers) > 1 else ""
        for out in _summarise_one(service, history, summary_lang, lang, state, papers[k],
                                  lambda f, desc: progress((k + f) / len(papers), desc=head + desc)):
            out = ((head + out[0]) if isinstance(out[0], str) else out[0], *out[1:])
            yield out
        if state["cancel"].is_set():
            break
    if out is not None and problems:  # a file that could not be read is still named at the end
        yield out[0] + "  \n" + "  \n".join(problems), *out[1:]


def _summarise_one(service: ModelService, history: History, summary_lang: str, lang: str, state: dict, entry: dict,
                   progress):
    """One paper's summary: yields (status, summary HTML, Markdown file, JSON file, state)."""
    out_lang = lang_code(summary_lang)
    none = gr.update(visible=False)
    index, name, paper = entry["index"], entry["name"], entry["index"].paper
    skipped = t("lit.skipped", lang, pages=", ".join(map(str, paper.skipped_pages))) if paper.skipped_pages else ""
    fields, cur, text, last, facts, notes = {}, "", "", 0.0, None, []
    scfg = SummaryConfig(lang=out_lang)
    try:
        for ev in summarize(index, service, scfg, source=name, model=service.describe(), cancel=state["cancel"]):
            if ev["type"] == "notices":
                notes = ev["notices"]
                skipped += "".join("  \n⚠️ " + P.summary_word(n, lang) for n in ev["notices"])
            elif ev["type"] == "facts":
                facts = ev["facts"]
            elif ev["type"] == "stage" and ev["stage"] != "done":
                cur, text = ev["stage"], ""
                label = P.SUMMARY_FIELDS[cur][1 if out_lang == "zh" else 0]
                progress(0.1 + 0.9 * ev["fraction"], label)
                status = text_bar(ev["fraction"]) + " " + t("lit.writing", lang, field=label,
                                                            pct=round(100 * ev["fraction"])) + skipped
                view = render_summary(index, fields, out_lang, cur, text, facts=facts, notices=notes)
                yield status, view, none, none, state
            elif ev["type"] == "token":
                text += ev["text"]
                if time.perf_counter() - last > UPDATE_S:
                    last = time.perf_counter()
                    view = render_summary(index, fields, out_lang, cur, text, facts=facts, notices=notes)
                    yield gr.update(), view, none, none, state
            elif ev["type"] == "field":
                fields[ev["field"]], cur, text = ev["bullets"], "", ""
            elif ev["type"] == "done":
                summary = ev["summary"]
    except Exception as e:
        yield "⚠️ " + error_text(e, lang), render_summary(index, fields, out_lang, facts=facts), \
            none, none, state
        return
    state["summary"] = entry["summary"] = summary
    entry["facts"] = facts
    done = t("lit.stopped" if summary.stats.get("cancelled") else "lit.done", lang, **summary.stats) + skipped
    rendered = render_summary(index, summary.fields, out_lang, dropped=summary.dropped, stats=summary.stats, facts=facts,
                              notices=summary.notices)
    # The summary is on screen now: a failure to store it or to write its downloads must not take it away.
    try:
        state["cid"] = entry["cid"] = history.save_turn(
            None, f"📄 {summary.title or name}", t("lit.summarise_request", out_lang, name=name), to_markdown(summary),
            meta={"kind": "summary", **summary.stats})
        history.audit.record("summarize", text=index.text, model=service.describe(), pages=paper.pages,
                             seconds=summary.stats["seconds"], dropped=len(summary.dropped),
                             cancelled=bool(summary.stats.get("cancelled")))
    except Exception as e:  # disk full, database locked, a bug: the summary stays on screen either way
        done += "  \n⚠️ " + storage_error_text(e, lang)
    try:
        md_path, json_path = entry["exports"] = save_exports(history, summary, index)
    except Exception as e:
        yield done + "  \n⚠️ " + t("download_failed", lang, msg=str(e) or type(e).__name__), rendered, none, none, state
        return
    yield (done, rendered, gr.update(value=str(md_path), visible=True), gr.update(value=str(json_path), visible=True),
           state)


def save_exports(history: History, summary, index: PaperIndex) -> tuple[Path, Path]:
    """The summary as Markdown and JSON downloads (private temp files, store/exports.py), redacted."""
    stem = "summary-" + (Path(summary.source).stem or "paper")
    account = history.user()  # a shared MedAssist: whose record this is
    md = history.downloads.write(stem + ".md", redact(to_markdown(summary)) + EXPORT_MARK +
                                 (f"\n_Account: {account}_\n" if account else ""))
    js = history.downloads.write(stem + ".json", redact(json.dumps(
        summary.to_json(index) | {"identifiers_redacted": True} | ({"account": account} if account else {}),
        ensure_ascii=False, indent=2)))
    history.audit.record("export", format="summary", files=2)
    return md, js


def ask_paper(service: ModelService, history: History, question: str, summary_lang: str, ui_lang: str, state: dict):
    """Yields (answer HTML, question box) while an answer from the paper's passages streams."""
    lang, out_lang = lang_code(ui_lang), lang_code(summary_lang)
    question = (question or "").strip()
    index = state.get("index")
    if index is None:
        yield f"<p>{t('lit.upload_first', lang)}</p>", question
        return
    if not question:
        yield f"<p>{t('empty', lang)}</p>", ""
        return
    if not service.ready:
        yield f"<p>{t('not_ready', lang)}</p>", question
        return
    state["cancel"] = cancel = threading.Event()
    text, last, started = "", 0.0, time.perf_counter()
    try:
        for piece in answer_question(index, service, question, out_lang, cancel=cancel, max_new_tokens=ASK_TOKENS):
            # the small model sometimes echoes the <paper> block's delimiters: they are not part of an answer
            text = P.sanitize_document(text + piece)
            if time.perf_counter() - last > UPDATE_S:
                last = time.perf_counter()
                yield render_answer(index, text), ""
    except Exception as e:
        yield f"<p>⚠️ {html.escape(error_text(e, lang))}</p>", question
        return
    text = text.strip()
    missing = NumberGuard(index.text).missing(text)
    warn = f"<p class='meta'>⚠️ {html.escape(t('lit.unverified', lang, nums=', '.join(missing)))}</p>" if missing else ""
    try:  # a conversation deleted meanwhile is started afresh (save_turn); a full disk keeps the answer shown
        state["cid"] = history.save_turn(state.get("cid"), f"📄 {index.paper.title or state.get('name', '')}",
                                         question, text, meta={"kind": "paper_question"})
        history.audit.record("ask_paper", text=question, model=service.describe(),
                             seconds=round(time.perf_counter() - started, 2))
    except Exception as e:
        warn += f"<p class='meta'>⚠️ {html.escape(storage_error_text(e, lang))}</p>"
    yield render_answer(index, text) + warn, ""


def build_tab(service: ModelService, history: History, cfg, lang: str, lang_radio, library=None) -> dict:
    """Lay out the tab and wire its events; returns components whose labels follow the language."""
    c: dict = {}
    state = gr.State(new_state)
    with gr.Row():
        with gr.Column(scale=1, min_width=260):
            c["file"] = gr.File(label=t("lit.upload", lang), file_types=list(PAPER_TYPES), type="filepath",
                                file_count="multiple", elem_id="lit-file")
            c["paper"] = gr.Dropdown(label=t("lit.paper", lang), choices=[], visible=False, elem_id="lit-paper")
            c["out_lang"] = gr.Radio(["中文", "English"], value="中文" if lang == "zh" else "English",
                                     label=t("lit.summary_lang", lang), elem_id="lit-lang")
            with gr.Row():
                c["run"] = gr.Button(t("lit.summarise", lang), variant="primary", elem_id="lit-run")
                c["stop"] = gr.Button(t("stop", lang), variant="stop", elem_id="lit-stop")
            c["status"] = gr.Markdown(elem_id="lit-status")
            c["md"] = gr.DownloadButton(t("lit.download_md", lang), visible=False, elem_id="lit-md")
            c["json"] = gr.DownloadButton(t("lit.download_json", lang), visible=False, elem_id="lit-json")
        with gr.Column(scale=3):
            c["summary"] = gr.HTML(elem_id="lit-summary", js_on_load=CITE_JS, min_height=120)
            c["question"] = gr.Textbox(label=t("lit.ask", lang), placeholder=t("lit.ask_placeholder", lang),
                                       elem_id="lit-question")
            c["ask"] = gr.Button(t("lit.ask_button", lang), elem_id="lit-ask")
            c["answer"] = gr.HTML(elem_id="lit-answer", js_on_load=CITE_JS)
    # The model is shared with the Q&A tab: one queue slot for every model call.
    # show_progress "minimal": Gradio's animated progress overlays cost the headless page ~20% of a core for the
    # whole summary (the model has 2); the status line carries a text bar instead. Side by side on the 10-page
    # paper: 84.5 vs 95.5 s, the page's CPU 7.5 vs 20.5 s (docs/benchmarks.md).
    c["run"].click(fn=partial(run_summary, service, history, cfg, library=library), inputs=[c["file"], c["out_lang"], lang_radio, state],
                   outputs=[c["status"], c["summary"], c["md"], c["json"], state],
                   concurrency_limit=1, concurrency_id="model", show_progress="minimal"
                   ).then(fn=picker, inputs=[state], outputs=[c["paper"]])
    c["stop"].click(fn=lambda st: st["cancel"].set(), inputs=[state], queue=False)
    c["file"].upload(fn=partial(load_paper, service, cfg, library=library), inputs=[c["file"], lang_radio, state],
                     outputs=[c["status"], state], concurrency_limit=2, concurrency_id="pdf"
                     ).then(fn=picker, inputs=[state], outputs=[c["paper"]])
    # A user's pick (not the picker's own update after a run) shows that paper's summary and downloads.
    c["paper"].input(fn=show_paper, inputs=[c["paper"], c["out_lang"], lang_radio, state],
                     outputs=[c["status"], c["summary"], c["md"], c["json"], state])
    ask = dict(fn=partial(ask_paper, service, history), inputs=[c["question"], c["out_lang"], lang_radio, state],
               outputs=[c["answer"], c["question"]], concurrency_limit=1, concurrency_id="model",
               show_progress="minimal")  # the answer streams in place (see the summary's click above)
    c["ask"].click(**ask)
    c["question"].submit(**ask)
    c["state"] = state
    return c
