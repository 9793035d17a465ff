"""The page: header with model status, safety notice, language switch, and the four tabs.

    from medassist.app.ui import build_ui; build_ui(service, history, cfg).launch()
(python -m medassist.app does this, with the right host, port and settings.)
"""
from __future__ import annotations

import os
from functools import partial

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline by design: before gradio is imported

import gradio as gr  # noqa: E402

from medassist.app import accounts  # noqa: E402
from medassist.app.downloads import clear_upload_cache  # noqa: E402
from medassist.app.tabs import feedback, literature, models, outline, qa  # noqa: E402
from medassist.store.users import Users  # noqa: E402
from medassist.app.config import AppConfig  # noqa: E402
from medassist.model.paths import data_dir  # noqa: E402
from medassist.store.history import History  # noqa: E402
from medassist.store.redact import redact  # noqa: E402
from medassist.app.i18n import t, lang_code, storage_error_text  # noqa: E402
from medassist.papers.library import Library  # noqa: E402
from medassist.papers.sources import gather  # noqa: E402
from medassist.app.service import ModelService  # noqa: E402

CSS = """
.emergency { background: #fdecea; border: 2px solid #c62828; border-radius: 8px; padding: 8px 12px; }
.notice { background: #fff8e1; border-left: 4px solid #f9a825; padding: 6px 12px; border-radius: 4px; }
#status { min-height: 1.5em; }
.paper-view button.cite { border: 1px solid #90caf9; background: #e3f2fd; border-radius: 4px; padding: 0 4px;
  font-size: 0.85em; cursor: pointer; margin-left: 2px; }
.paper-view .cite-source { background: #f5f5f5; border-left: 4px solid #1e88e5; padding: 8px 12px; margin-top: 8px;
  max-height: 320px; overflow-y: auto; }
.paper-view .cite-source .hit { background: #fff59d; }
.paper-view .partial { color: #777; white-space: pre-wrap; }
.paper-view .meta { color: #666; font-size: 0.9em; }
#chat button.src-cite { border: 1px solid #90caf9; background: #e3f2fd; border-radius: 4px; padding: 0 4px;
  font-size: 0.8em; cursor: pointer; margin: 0 1px; }
#chat details.sources li.hit { background: #fff59d; }
#chat details.sources li { font-size: 0.9em; margin-bottom: 4px; }
.paper-view ul.facts { background: #f1f8e9; border-left: 4px solid #7cb342; padding: 8px 12px 8px 28px; border-radius: 4px; }
"""


def status_markdown(service: ModelService, lang: str) -> str:
    s = service.status
    if s.state == "ready":
        host = service.remote_host
        if host:  # the server is named once, in "where"
            return f"**{t('model', lang)}:** {service.engine.info.name} — {t('where.remote', lang, host=host)}"
        return f"**{t('model', lang)}:** {service.describe()} — {t('where.local', lang)}"
    if s.state == "error":
        return "⚠️ " + t("model_error", lang, msg=s.message)
    if s.state == "loading":
        return "⏳ " + t("loading", lang)
    return "⏳ " + t("preparing", lang, stage=s.stage, pct=round(s.fraction * 100), msg=s.message)


def build_ui(service: ModelService, history: History, cfg: AppConfig, users: Users | None = None,
             reference=None) -> gr.Blocks:
    """users: the accounts (store/users.py); with none, an admin panel never shows. reference: the bundled
    reference's index (papers/reference.py; None: Q&A's sources come from the user's papers alone)."""
    lang = cfg.lang
    users = users or Users(history.path.parent / "users.json")
    # The reference library sits beside the history; its embeddings load on first use.
    library = Library(history.path.parent / "library.sqlite", service.embedder, redact=redact, user=history.user)
    finder = partial(gather, reference=reference, library=library)
    # delete_cache: what uploads and downloads leave in Gradio's cache is removed hourly, and at shutdown.
    with gr.Blocks(title="MedAssist", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        with gr.Row(equal_height=True):
            with gr.Column(scale=5):
                title = gr.Markdown(f"## {t('title', lang)}\n{t('subtitle', lang)}")
                status = gr.Markdown(status_markdown(service, lang), elem_id="status")
            lang_radio = gr.Radio(["中文", "English"], value="中文" if lang == "zh" else "English",
                                  label=t("language", lang), elem_id="language", scale=1)
        notice = gr.Markdown(t("notice", lang), elem_id="notice", elem_classes=["notice"])
        with gr.Tabs():
            with gr.Tab(t("tab.qa", lang), id="qa") as tab_qa:
                q = qa.build_tab(service, history, cfg, lang, lang_radio, finder)
            with gr.Tab(t("tab.lit", lang), id="lit") as tab_lit:
                lit = literature.build_tab(service, history, cfg, lang, lang_radio, library)
            with gr.Tab(t("tab.outline", lang), id="outline") as tab_outline:
                out = outline.build_tab(service, history, library, cfg, lang, lang_radio)
            with gr.Tab(t("tab.settings", lang), id="settings") as tab_settings:
                with gr.Accordion(t("models", lang), open=True, elem_id="models") as models_acc:
                    mod = models.build_tab(service, lang, lang_radio)
                acc = accounts.build_panel(users, lang, lang_radio)
                about = gr.Markdown(about_markdown(lang, cfg))
                fb_count = gr.Markdown(elem_id="feedback-count")
                delete_all = gr.Button(t("delete_all", lang), variant="stop", elem_id="delete-all")
                with gr.Group(visible=False, elem_id="delete-all-confirm") as confirm_box:
                    confirm_text = gr.Markdown(t("delete_all.confirm", lang))
                    with gr.Row():
                        delete_yes = gr.Button(t("delete_all.yes", lang), variant="stop", elem_id="delete-all-yes")
                        delete_no = gr.Button(t("delete_all.cancel", lang), elem_id="delete-all-cancel")

        demo.load(acc["load"], inputs=[lang_radio], outputs=[acc["panel"], acc["listing"]], queue=False)
        count = dict(fn=lambda lv: feedback.counts_markdown(history, lang_code(lv)), inputs=[lang_radio],
                     outputs=[fb_count], queue=False)
        demo.load(**count)
        tab_settings.select(**count)  # an account's ratings since the page opened
        # The first start indexes the reference in the background: say so beside the switch while it does.
        demo.load(lambda lv: gr.update(info=t("src.building", lang_code(lv), pct=round(100 * reference.fraction))
                                       if reference is not None and reference.state in ("absent", "building", "lexical")
                                       else t("src.info", lang_code(lv))), inputs=[lang_radio], outputs=[q["sources"]],
                  queue=False)
        # Citation buttons open their passage in the page (no server call). A js= beside a fn would hand the fn
        # this script's return value as its inputs, so the script has a load of its own.
        demo.load(None, js=qa.SOURCES_JS)

        # Always starts ticking: the model may become ready while the page is being built (after the status
        # above was written), and each page must then learn it; the first tick after ready stops the timer.
        timer = gr.Timer(1.0, active=True)
        timer.tick(lambda lv: (status_markdown(service, lang_code(lv)), gr.Timer(active=not service.ready
                                                                                    and service.status.state != "error")),
                   inputs=[lang_radio], outputs=[status, timer], queue=False)
        # Switching models (or building one) changes the header: it follows until the new model is ready.
        follow = dict(fn=lambda lv: (status_markdown(service, lang_code(lv)), gr.Timer(active=True)),
                      inputs=[lang_radio], outputs=[status, timer], queue=False)
        for b in ("use", "save", "remove", "file_add"):
            mod[b].click(**follow)

        def on_delete_all(lv, q_state, lit_state):
            # Stop what this page is generating, delete, then reset both tabs' sessions so that nothing
            # deleted is shown or sent to the model again (another open tab finds its conversation gone).
            for st in (q_state, lit_state):
                st["cancel"].set()
            try:
                history.delete_all()
                library.delete_all()
                if not history.user():  # one person's install: every upload left in Gradio's cache is theirs
                    clear_upload_cache()
            except Exception as e:
                gr.Warning(storage_error_text(e, lang_code(lv)))
                return gr.update(), gr.update(), q_state, lit_state, gr.update(), "", "", "", gr.update(visible=False)
            gr.Info(t("deleted_all", lang_code(lv)))
            return (gr.update(choices=[], value=None), [], qa.new_state(), literature.new_state(), "", "", "", "",
                    gr.update(visible=False))

        delete_all.click(lambda: gr.update(visible=True), outputs=[confirm_box], queue=False)
        delete_no.click(lambda: gr.update(visible=False), outputs=[confirm_box], queue=False)
        delete_yes.click(on_delete_all, inputs=[lang_radio, q["state"], lit["state"]],
                         outputs=[q["conversations"], q["chat"], q["state"], lit["state"], q["stats"], lit["summary"],
                                  lit["answer"], lit["status"], confirm_box], queue=False
                         ).then(literature.picker, inputs=[lit["state"]], outputs=[lit["paper"]], queue=False
                         ).then(**q["feedback"]["sync"])

        # Language switch: every visible string follows it.
        labelled = {q["chat"]: "tab.qa", q["question"]: "question", q["budget"]: "budget",
                    q["feedback"]["panel"]: "fb.title", q["feedback"]["correction"]: "fb.correction",
                    q["temperature"]: "temperature", q["max_len"]: "max_len", q["penalty"]: "penalty",
                    q["search"]: "search",
                    q["conversations"]: "conversations", q["controls"]: "controls", q["history"]: "history",
                    q["file"]: "download", lang_radio: "language", tab_qa: "tab.qa", tab_lit: "tab.lit",
                    tab_outline: "tab.outline", tab_settings: "tab.settings", lit["file"]: "lit.upload", lit["paper"]: "lit.paper",
                    lit["out_lang"]: "lit.summary_lang", lit["question"]: "lit.ask",
                    lit["md"]: "lit.download_md", lit["json"]: "lit.download_json", out["topic"]: "out.topic",
                    out["type"]: "out.type", out["journal"]: "out.journal", out["outline"]: "out.outline",
                    out["refs_acc"]: "out.refs", out["lib_files"]: "out.library_upload", out["suggestions"]: "out.suggestions",
                    out["check_acc"]: "out.check", out["guideline"]: "out.guideline", out["draft"]: "out.draft",
                    out["draft_file"]: "out.draft_file", models_acc: "models", mod["choice"]: "models.choice",
                    mod["add_acc"]: "models.add_server", mod["url"]: "models.url", mod["key"]: "models.key",
                    mod["server_model"]: "models.server_model", mod["ctx"]: "models.context",
                    mod["file_acc"]: "models.file", mod["path"]: "models.file_path", acc["panel"]: "acc.title",
                    acc["name"]: "acc.name", acc["password"]: "acc.password", acc["admin"]: "acc.admin"}
        buttons = {q["feedback"]["save"]: "fb.save", q["send"]: "send", q["stop"]: "stop", q["new_chat"]: "new_chat", q["regenerate"]: "regenerate",
                   q["open"]: "open", q["delete"]: "delete", q["export"]: "export", delete_all: "delete_all",
                   delete_yes: "delete_all.yes", delete_no: "delete_all.cancel",
                   lit["run"]: "lit.summarise", lit["stop"]: "stop", lit["ask"]: "lit.ask_button",
                   out["run"]: "out.generate", out["stop"]: "stop", out["md_btn"]: "out.export_md",
                   out["docx_btn"]: "out.export_docx", out["suggest"]: "out.suggest", out["check"]: "out.check_button",
                   mod["use"]: "models.use", mod["remove"]: "models.remove", mod["test"]: "models.test",
                   mod["save"]: "models.save", mod["file_add"]: "models.file_add", mod["check"]: "models.check",
                   acc["add"]: "acc.add", acc["remove"]: "acc.remove"}

        def switch(lv):
            lg = lang_code(lv)
            ups = [gr.update(label=t(k, lg)) for k in labelled.values()]
            ups += [gr.update(value=t(k, lg)) for k in buttons.values()]
            ups += [f"## {t('title', lg)}\n{t('subtitle', lg)}", t("notice", lg),
                    about_markdown(lg, cfg), status_markdown(service, lg), gr.update(placeholder=t("placeholder", lg)),
                    gr.update(placeholder=t("lit.ask_placeholder", lg)), models.current(service, lg),
                    models.checks_table(lg), gr.update(choices=models.choices(lg)), t("delete_all.confirm", lg)]
            return ups

        lang_radio.change(switch, inputs=[lang_radio], queue=False,
                          outputs=[*labelled, *buttons, title, notice, about, status,
                                   q["question"], lit["question"], mod["current"], mod["checks"], mod["choice"],
                                   confirm_text])
    # No handler is a public Gradio API: reading and deleting history, the library and exports happen through
    # the page only (the documented API is /v1, with its own key rules).
    for fn in demo.fns.values():
        fn.api_visibility = "private"
    return demo


def about_markdown(lang: str, cfg: AppConfig) -> str:
    from medassist.model.paths import models_dir

    host = "127.0.0.1" if cfg.host in ("127.0.0.1", "localhost", "::1") else cfg.host
    return t("about", lang, data=data_dir(), models=models_dir(), api=f"http://{host}:{cfg.port}/v1")


THEME = gr.themes.Default()  # bundled fonts only; nothing is fetched from the internet
