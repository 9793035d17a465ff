"""Who is asking: the logged-in account, for every read and write of the user's data (store/users.py keeps
the accounts). On a one-person install — no accounts — everyone is "" and nothing changes.

    history = History(path, user=account_of(users))   # every query scoped to the account behind the request
"""
from __future__ import annotations

from medassist.app.i18n import lang_code, t
from medassist.store.users import Users


def request_username() -> str:
    """The account behind the Gradio event being handled (Gradio sets the request before every handler call and
    every step of a streaming one); "" outside an event."""
    from gradio.context import LocalContext

    req = LocalContext.request.get(None)
    return (getattr(req, "username", None) or "") if req is not None else ""


def account_of(users: Users):
    """The user function for History and Library: the request's account when accounts exist, else "" (a single
    shared --host login, or none, is one person's data)."""
    def user() -> str:
        if not users.any():
            return ""
        from gradio.context import LocalContext

        name = request_username()
        if not name and LocalContext.in_event_listener.get(False):
            raise PermissionError("Log in to use MedAssist.")  # cannot happen with auth on: refuse, never share
        return name  # "" outside a page event: the /v1 API, which stores nothing but its audit hash
    return user


def build_panel(users: Users, lang: str, lang_radio):
    """Settings → Accounts, shown to an admin only (and checked again on every click: a hidden panel is not a
    permission). An admin adds and removes accounts; no one's conversations are visible here."""
    import gradio as gr

    with gr.Accordion(t("acc.title", lang), open=False, visible=False, elem_id="accounts") as panel:
        listing = gr.Markdown(elem_id="accounts-list")
        with gr.Row():
            name = gr.Textbox(label=t("acc.name", lang), elem_id="accounts-name", scale=2)
            password = gr.Textbox(label=t("acc.password", lang), type="password", elem_id="accounts-password", scale=2)
            admin = gr.Checkbox(label=t("acc.admin", lang), elem_id="accounts-admin", scale=1)
        with gr.Row():
            add = gr.Button(t("acc.add", lang), elem_id="accounts-add")
            remove = gr.Button(t("acc.remove", lang), variant="stop", elem_id="accounts-remove")
        message = gr.Markdown(elem_id="accounts-message")

    def names(lg):
        return "  \n".join(f"- {n}{' (admin)' if users.is_admin(n) else ''}" for n in users.names()) or t("acc.none", lg)

    def on_load(lang_value: str):
        me = request_username()
        show = users.any() and users.is_admin(me)
        return gr.update(visible=show), names(lang_code(lang_value)) if show else ""

    def act(kind: str, n: str, p: str, is_admin: bool, lang_value: str):
        lg = lang_code(lang_value)
        me = request_username()
        if not users.is_admin(me):
            return gr.update(), t("acc.not_admin", lg), ""
        try:
            if kind == "add":
                users.add((n or "").strip(), p or "", bool(is_admin))
                msg = t("acc.added", lg, name=n.strip())
            elif (n or "").strip() == me:
                msg = t("acc.not_self", lg)
            elif users.remove((n or "").strip()):
                msg = t("acc.removed", lg, name=n.strip())
            else:
                msg = t("acc.unknown", lg, name=n)
        except ValueError as e:
            msg = "⚠️ " + str(e)
        return names(lg), msg, ""  # the password box is emptied either way

    io = dict(inputs=[name, password, admin, lang_radio], outputs=[listing, message, password], queue=False)
    add.click(lambda *a: act("add", *a), **io)
    remove.click(lambda *a: act("remove", *a), **io)
    return {"panel": panel, "listing": listing, "name": name, "password": password, "admin": admin, "add": add,
            "remove": remove, "load": on_load}
