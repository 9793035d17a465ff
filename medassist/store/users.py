"""Accounts, one per clinician, for a MedAssist shared on a network: each sees only their own history,
summaries and library. Passwords are stored as scrypt hashes (hashlib, RFC 7914) in <data>/users.json (0600).

    medassist users add alice            # asks for the password twice (or MEDASSIST_NEW_PASSWORD / --password-file)
    medassist users add admin --admin    # an admin manages accounts (Settings → Accounts) but reads no one's data
    medassist users list
    medassist users remove alice         # the account goes; their data stays until deleted (--delete-data)

With no accounts, MedAssist is single-user as before (on this computer: no login; with --host: one shared
login from MEDASSIST_PASSWORD). Once an account exists, every page needs a login, also on 127.0.0.1.
"""
from __future__ import annotations

import argparse
import getpass
import hashlib
import hmac
import json
import os
import re
import secrets
import sys
import threading
from pathlib import Path

SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1, "dklen": 32}  # ~50 ms and 16 MB per check: slow for guessing, fine for a login
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,31}$")


def _hash(password: str, salt: bytes, params: dict) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, maxmem=64 * 1024 * 1024, **params)


class Users:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._cache: tuple[tuple, dict] | None = None  # (the file's mtime and size, its accounts)

    def _load(self) -> dict:
        """The accounts, read again only when the file changed: History and Library ask on every query."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return {}
        stamp = (st.st_mtime_ns, st.st_size)
        if self._cache and self._cache[0] == stamp:
            return dict(self._cache[1])
        try:
            users = json.loads(self.path.read_text(encoding="utf-8")).get("users", {})
        except (OSError, ValueError, AttributeError) as e:
            # a damaged accounts file must not open the doors: refuse every login until it is fixed
            raise RuntimeError(f"{self.path} cannot be read ({e}); fix or remove it") from None
        self._cache = (stamp, users)
        return dict(users)

    def _save(self, users: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"users": users}, f, indent=1)
        os.replace(tmp, self.path)
        os.chmod(self.path, 0o600)

    def names(self) -> list[str]:
        return sorted(self._load())

    def any(self) -> bool:
        return bool(self._load())

    def is_admin(self, name: str | None) -> bool:
        return bool(name and self._load().get(name, {}).get("admin"))

    def add(self, name: str, password: str, admin: bool = False) -> None:
        if not NAME.match(name or ""):
            raise ValueError("A user name is 2-32 letters, digits, '.', '_' or '-'.")
        if len(password or "") < 8:
            raise ValueError("A password needs at least 8 characters.")
        salt = secrets.token_bytes(16)
        with self._lock:
            users = self._load()
            users[name] = {"salt": salt.hex(), "hash": _hash(password, salt, SCRYPT).hex(), "scrypt": SCRYPT,
                           "admin": bool(admin)}
            self._save(users)

    def remove(self, name: str) -> bool:
        with self._lock:
            users = self._load()
            if users.pop(name, None) is None:
                return False
            self._save(users)
            return True

    def verify(self, name: str, password: str) -> bool:
        """Gradio's auth function: True for the right password. Unknown names cost the same time."""
        try:
            u = self._load().get(name or "")
        except RuntimeError:
            return False
        salt = bytes.fromhex(u["salt"]) if u else b"\0" * 16
        got = _hash(password or "", salt, u.get("scrypt", SCRYPT) if u else SCRYPT)
        return bool(u) and hmac.compare_digest(got.hex(), u["hash"])


def _password(args) -> str:
    if args.password_file:
        return Path(args.password_file).read_text(encoding="utf-8").strip()
    if os.environ.get("MEDASSIST_NEW_PASSWORD"):
        return os.environ["MEDASSIST_NEW_PASSWORD"]
    first = getpass.getpass("Password (8+ characters): ")
    if getpass.getpass("Again: ") != first:
        sys.exit("error: the two passwords differ")
    return first


def main(argv=None) -> None:
    from medassist.model.paths import data_dir

    ap = argparse.ArgumentParser(prog="medassist users", description=__doc__.split("\n\n")[0], allow_abbrev=False)
    sub = ap.add_subparsers(dest="cmd", required=True)
    add = sub.add_parser("add", help="add an account or change its password")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="may manage accounts in Settings (reads no one's data)")
    add.add_argument("--password-file", help="read the password from this file (else MEDASSIST_NEW_PASSWORD, else a prompt)")
    rm = sub.add_parser("remove", help="remove an account")
    rm.add_argument("name")
    rm.add_argument("--delete-data", action="store_true", help="also delete the account's history and library")
    sub.add_parser("list", help="list accounts")
    args = ap.parse_args(argv)
    os.umask(0o077)  # a data folder this creates is private to this OS user, as the app's is
    users = Users(data_dir() / "users.json")
    if args.cmd == "add":
        try:
            users.add(args.name, _password(args), args.admin)
        except ValueError as e:
            sys.exit(f"error: {e}")
        print(f"{args.name}: saved{' (admin)' if args.admin else ''}")
    elif args.cmd == "remove":
        if not users.remove(args.name):
            sys.exit(f"error: no account {args.name}")
        if args.delete_data:
            delete_user_data(data_dir(), args.name)
        print(f"{args.name}: removed{' with their data' if args.delete_data else ''}")
    else:
        for n in users.names():
            print(n + ("  (admin)" if users.is_admin(n) else ""))


def delete_user_data(folder: Path, name: str) -> None:
    """Everything one account wrote: its conversations and its library entries."""
    from medassist.store.history import History

    h = History(folder / "history.sqlite", user=lambda: name)
    h.delete_all(audit=False)
    import sqlite3

    # The library's table, through SQLite itself: the store layer may not import papers.library.
    lib = folder / "library.sqlite"
    if lib.exists():
        with sqlite3.connect(lib) as db:
            cols = {r[1] for r in db.execute("PRAGMA table_info(entries)")}
            if "user" in cols:
                db.execute("DELETE FROM entries WHERE user=?", (name,))
