"""Settings → Models: which model answers (this computer's, another built here, or a model server), adding and
removing servers (test the connection: it lists the server's models), adding a model file (.gguf or an ONNX
GenAI folder, built in the background with progress), and the medical check of the model that answers.

Handlers are plain functions of the service, the jobs and the page's language, so tests can call them directly.
"""
from __future__ import annotations

import gradio as gr

from medassist.app.i18n import error_text, lang_code, t
from medassist.app.jobs import Jobs
from medassist.evals.check import Results, describe
from medassist.model.endpoints import LOCAL, Endpoint, Endpoints, list_models
from medassist.model.paths import ASSETS
from medassist.model.registry import built_models

REFERENCE = ASSETS / "exams" / "reference.json"  # the developers' own figures for the bundled model


def choices(lang: str) -> list[tuple[str, str]]:
    here = t("models.this_computer", lang)
    out = [(f"{here} · {t('models.default', lang)}", LOCAL)]
    out += [(f"{here} · {name}", f"{LOCAL}:{name}") for name in built_models()]
    try:
        out += [(f"🌐 {e.name}", e.name) for e in Endpoints().all()]
    except ValueError:  # a damaged endpoints.json: the page still opens; saving a server says what is wrong
        pass
    return out


def current(service, lang: str) -> str:
    if not service.ready:
        return t("models.none", lang)
    host = service.remote_host
    if host:
        return t("models.current", lang, model=service.engine.info.name, where=t("where.remote", lang, host=host))
    return t("models.current", lang, model=service.describe(), where=t("where.local", lang))


def checks_table(lang: str) -> str:
    import json

    rows = dict(Results().all())
    if REFERENCE.exists():
        for label, r in json.loads(REFERENCE.read_text(encoding="utf-8")).items():
            rows.setdefault(label, r | {"reference": True})
    if not rows:
        return t("models.no_checks", lang)
    lines = [f"**{t('models.checks', lang)}**", ""]
    for label, r in sorted(rows.items(), key=lambda kv: -kv[1]["accuracy"]):
        note = f" ({t('models.reference', lang)}, {r['checked'][:10]})" if r.get("reference") else f" ({r['checked']})"
        lines.append(f"- **{label}** — {describe(r, lang)}{note}")
    return "\n".join(lines)


def job_status(jobs: Jobs, lang: str) -> str:
    s = jobs.state
    if not s.kind:
        return ""
    if s.error:
        return "⚠️ " + s.error
    if s.running and s.kind == "check":
        return t("models.checking", lang, model=s.name, done=s.done, total=s.total or "…")
    if s.running:
        return t("models.building", lang, name=s.name, stage=s.stage, pct=round(s.fraction * 100), msg=s.message)
    if s.kind == "check" and s.result:
        return f"✅ {s.result['model']}: {describe(s.result, lang)}"
    return "✅ " + t("models.saved", lang, name=s.name)


def test_connection(url: str, key: str, lang_value: str):
    """Lists the server's models into the model dropdown, or says in one sentence why it cannot."""
    lang = lang_code(lang_value)
    try:
        ep = Endpoint(url=url, model="?", api_key=key or None)
        models = list_models(ep)
    except Exception as e:
        return gr.update(choices=[], value=None), "⚠️ " + error_text(e, lang)
    ids = [m["id"] for m in models]
    return gr.update(choices=ids, value=ids[0] if ids else None), t("models.found", lang, host=ep.host, n=len(ids))


def save_endpoint(service, url: str, key: str, model: str, ctx, lang_value: str):
    lang = lang_code(lang_value)
    try:
        ep = Endpoints().add(Endpoint(url=url, model=model or "", api_key=key or None,
                                      context_length=int(ctx) if ctx else None))
        service.use(ep.name)
    except Exception as e:
        return gr.update(choices=choices(lang)), "⚠️ " + error_text(e, lang), current(service, lang), ""
    return (gr.update(choices=choices(lang), value=ep.name), "✅ " + t("models.saved", lang, name=ep.name),
            current(service, lang), "")  # the key box is cleared: the key is stored, never shown again


def use_model(service, choice: str, lang_value: str):
    lang = lang_code(lang_value)
    if not choice:
        return "", current(service, lang)
    try:
        service.use(choice)
    except Exception as e:
        return "⚠️ " + error_text(e, lang), current(service, lang)
    return "", current(service, lang)


def remove_model(service, choice: str, lang_value: str):
    lang = lang_code(lang_value)
    if choice and not choice.startswith(LOCAL):
        was_active = Endpoints().active == choice
        Endpoints().remove(choice)
        if was_active:
            service.use(LOCAL)
    return gr.update(choices=choices(lang), value=None), current(service, lang)


def build_tab(service, lang: str, lang_radio) -> dict:
    """The Models section; returns components whose labels follow the language."""
    c: dict = {}
    jobs = Jobs(service)
    c["jobs"] = jobs
    c["current"] = gr.Markdown(current(service, lang), elem_id="models-current")
    with gr.Row():
        opts = choices(lang)
        try:
            active = Endpoints().active if not service.cfg.endpoint else None  # --endpoint is not a saved choice
        except ValueError:
            active = None
        c["choice"] = gr.Dropdown(choices=opts, value=active if active in [v for _, v in opts] else None,
                                  label=t("models.choice", lang), scale=4,
                                  elem_id="models-choice", interactive=True)
        c["use"] = gr.Button(t("models.use", lang), elem_id="models-use", scale=1)
        c["remove"] = gr.Button(t("models.remove", lang), variant="stop", elem_id="models-remove", scale=1)
    c["message"] = gr.Markdown(elem_id="models-message")
    with gr.Accordion(t("models.add_server", lang), open=False, elem_id="models-add") as c["add_acc"]:
        with gr.Row():
            c["url"] = gr.Textbox(label=t("models.url", lang), placeholder="http://127.0.0.1:8080/v1", scale=3,
                                  elem_id="models-url")
            c["key"] = gr.Textbox(label=t("models.key", lang), type="password", scale=2, elem_id="models-key")
        with gr.Row():
            c["test"] = gr.Button(t("models.test", lang), elem_id="models-test", scale=1)
            c["server_model"] = gr.Dropdown(choices=[], label=t("models.server_model", lang), allow_custom_value=True,
                                            scale=3, elem_id="models-server-model", interactive=True)
            c["ctx"] = gr.Number(value=0, precision=0, minimum=0, label=t("models.context", lang), scale=2)
        c["save"] = gr.Button(t("models.save", lang), variant="primary", elem_id="models-save")
    with gr.Accordion(t("models.file", lang), open=False) as c["file_acc"]:
        c["path"] = gr.Textbox(label=t("models.file_path", lang), placeholder="~/Downloads/model.gguf",
                               elem_id="models-path")
        c["file_add"] = gr.Button(t("models.file_add", lang), elem_id="models-file-add")
    c["check"] = gr.Button(t("models.check", lang), elem_id="models-check")
    c["job"] = gr.Markdown(elem_id="models-job")
    c["checks"] = gr.Markdown(checks_table(lang), elem_id="models-checks")
    timer = gr.Timer(1.0, active=False)

    def poll(lv):
        lg = lang_code(lv)
        running = jobs.state.running
        return (job_status(jobs, lg), checks_table(lg), current(service, lg), gr.update(choices=choices(lg)),
                gr.Timer(active=running))

    poll_out = [c["job"], c["checks"], c["current"], c["choice"], timer]
    timer.tick(poll, inputs=[lang_radio], outputs=poll_out, queue=False)

    def start(kind, path, lv):
        lg = lang_code(lv)
        try:
            started = jobs.check() if kind == "check" else jobs.build_file(path or "")
        except Exception as e:
            return "⚠️ " + error_text(e, lg), gr.Timer(active=False)
        if not started:
            return t("models.busy", lg) if jobs.state.running else t("models.none", lg), gr.Timer(active=jobs.state.running)
        return job_status(jobs, lg), gr.Timer(active=True)

    c["check"].click(lambda lv: start("check", None, lv), inputs=[lang_radio], outputs=[c["job"], timer], queue=False)
    c["file_add"].click(lambda p, lv: start("build", p, lv), inputs=[c["path"], lang_radio], outputs=[c["job"], timer],
                        queue=False)
    c["test"].click(test_connection, inputs=[c["url"], c["key"], lang_radio], outputs=[c["server_model"], c["message"]])
    c["save"].click(lambda *a: save_endpoint(service, *a), inputs=[c["url"], c["key"], c["server_model"], c["ctx"], lang_radio],
                    outputs=[c["choice"], c["message"], c["current"], c["key"]])
    c["use"].click(lambda ch, lv: use_model(service, ch, lv), inputs=[c["choice"], lang_radio],
                   outputs=[c["message"], c["current"]])
    c["remove"].click(lambda ch, lv: remove_model(service, ch, lv), inputs=[c["choice"], lang_radio],
                      outputs=[c["choice"], c["current"]])
    return c
