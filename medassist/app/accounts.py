"""Who is asking: the logged-in account, for every read and write of the user's data (store/users.py keeps
the accounts). On a one-person install — no accounts — everyone is "" and nothing changes.

    history = History(path, user=account_of(users))   # every query scoped to the account behind the request
"""
from __future__ import annotations

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
