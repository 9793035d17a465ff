"""Local chat history: SQLite in the user data folder. Everything is redacted before it is written.

    python -m medassist.store.history list                 # conversations, newest first
    python -m medassist.store.history export ID out.md     # one conversation as Markdown, reasoning included
"""
from __future__ import annotations

import json
import shutil
import sqlite3
import sys
import threading
import time
from pathlib import Path

from medassist.store.exports import EXPORT_MARK, Downloads
from medassist.store.safety import redact

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL,
    user TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role TEXT NOT NULL, content TEXT NOT NULL, thinking TEXT NOT NULL DEFAULT '', meta TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages(conversation_id);
"""


class History:
    """The user's data: conversations (SQLite) and the audit log, in one folder; downloads go to private temp files.
    user: who is asking, called on every read and write ("" = the single user of a one-person install); every
    query is scoped to it, so one account never sees, finds, opens, exports or deletes another's conversations."""

    def __init__(self, path: str | Path, downloads: Downloads | None = None, user=None):
        from medassist.store.audit import AuditLog

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Exports are served from private temp files (store/exports.py), never from the data folder. Versions
        # before 0.3 wrote them to <data>/exports: delete_all still removes that folder.
        self.legacy_exports = self.path.parent / "exports"
        self.downloads = downloads or Downloads()
        self.user = user or (lambda: "")
        self.audit = AuditLog(self.path.parent, user=self.user)
        self._lock = threading.Lock()  # gradio calls from worker threads; one connection, serialised
        self.db = sqlite3.connect(self.path, check_same_thread=False)
        self.db.execute("PRAGMA foreign_keys = ON")
        self.db.executescript(SCHEMA)
        if "user" not in {r[1] for r in self.db.execute("PRAGMA table_info(conversations)")}:  # before 0.4
            self.db.execute("ALTER TABLE conversations ADD COLUMN user TEXT NOT NULL DEFAULT ''")
        self.db.execute("CREATE INDEX IF NOT EXISTS conversations_by_user ON conversations(user, updated)")
        from medassist.store.feedback import Feedback

        self.feedback = Feedback(self)  # ratings and corrections of answers, deleted with their conversation

    # The three write paths below share these (called with the lock held, inside a transaction).
    def _owned(self, conversation_id: int | None) -> bool:
        return conversation_id is not None and self.db.execute(
            "SELECT 1 FROM conversations WHERE id=? AND user=?", (conversation_id, self.user())).fetchone() is not None

    def _start(self, title: str, now: float) -> int:
        return self.db.execute("INSERT INTO conversations(title, created, updated, user) VALUES (?,?,?,?)",
                               (redact(" ".join(title.split()))[:80] or "(untitled)", now, now, self.user())).lastrowid

    def _append(self, conversation_id: int, role: str, content: str, thinking: str, meta: dict, now: float) -> None:
        self.db.execute("INSERT INTO messages(conversation_id, role, content, thinking, meta, created) "
                        "VALUES (?,?,?,?,?,?)", (conversation_id, role, redact(content), redact(thinking),
                                                 json.dumps(meta), now))
        self.db.execute("UPDATE conversations SET updated=? WHERE id=?", (now, conversation_id))

    def new_conversation(self, first_question: str) -> int:
        with self._lock, self.db:
            return self._start(first_question, time.time())

    def add(self, conversation_id: int, role: str, content: str, thinking: str = "", meta: dict | None = None) -> None:
        with self._lock, self.db:
            if not self._owned(conversation_id):
                raise KeyError(f"no conversation {conversation_id}")
            self._append(conversation_id, role, content, thinking, meta or {}, time.time())

    def exists(self, conversation_id: int | None) -> bool:
        with self._lock:
            return self._owned(conversation_id)

    def save_turn(self, conversation_id: int | None, title: str, question: str, answer: str, thinking: str = "",
                  meta: dict | None = None) -> int:
        """A question and its answer, in one transaction; a conversation that is gone (deleted in this or
        another tab) or not yet started is started afresh with this turn. Returns the conversation id."""
        now = time.time()
        with self._lock, self.db:
            if not self._owned(conversation_id):
                conversation_id = self._start(title, now)
            self._append(conversation_id, "user", question, "", {}, now)
            self._append(conversation_id, "assistant", answer, thinking, meta or {}, now)
        return conversation_id

    def conversations(self, query: str = "", limit: int = 200) -> list[dict]:
        sql = "SELECT id, title, updated FROM conversations WHERE user=?"
        args: tuple = (self.user(),)
        if query.strip():
            q = f"%{query.strip()}%"
            sql += (" AND (title LIKE ? OR id IN (SELECT conversation_id FROM messages "
                    "WHERE content LIKE ? OR thinking LIKE ?))")
            args += (q, q, q)
        with self._lock:
            rows = self.db.execute(sql + " ORDER BY updated DESC LIMIT ?", args + (limit,)).fetchall()
        return [{"id": r[0], "title": r[1], "updated": r[2]} for r in rows]

    def messages(self, conversation_id: int) -> list[dict]:
        with self._lock:
            rows = self.db.execute("SELECT m.role, m.content, m.thinking, m.meta, m.created FROM messages m "
                                   "JOIN conversations c ON c.id = m.conversation_id "
                                   "WHERE m.conversation_id=? AND c.user=? ORDER BY m.id",
                                   (conversation_id, self.user())).fetchall()
        return [{"role": r[0], "content": r[1], "thinking": r[2], "meta": json.loads(r[3]), "created": r[4]}
                for r in rows]

    def title(self, conversation_id: int) -> str:
        with self._lock:
            row = self.db.execute("SELECT title FROM conversations WHERE id=? AND user=?",
                                  (conversation_id, self.user())).fetchone()
        return row[0] if row else ""

    def delete(self, conversation_id: int) -> None:
        with self._lock, self.db:
            self.db.execute("DELETE FROM conversations WHERE id=? AND user=?", (conversation_id, self.user()))
        (self.legacy_exports / f"medassist-conversation-{conversation_id}.md").unlink(missing_ok=True)
        self.audit.record("delete", conversation=conversation_id)

    def export(self, conversation_id: int) -> Path:
        """The conversation as a Markdown download (a private temp file)."""
        if not self.exists(conversation_id):
            raise KeyError(f"no conversation {conversation_id}")
        out = self.downloads.write(f"medassist-conversation-{conversation_id}.md", self.to_markdown(conversation_id))
        self.audit.record("export", conversation=conversation_id, format="markdown")
        return out

    def delete_all(self, audit: bool = True) -> None:
        """Really delete this user's data: every conversation (messages go with them), the downloads, their audit
        entries; the database file is compacted so deleted text does not linger in free pages."""
        with self._lock, self.db:
            self.db.execute("DELETE FROM conversations WHERE user=?", (self.user(),))
        with self._lock:
            self.db.execute("VACUUM")
        self.downloads.clear()
        if not self.user():  # the one-person install: nothing in these belongs to anyone else
            shutil.rmtree(self.legacy_exports, ignore_errors=True)
        if audit:
            self.audit.delete()

    def to_markdown(self, conversation_id: int) -> str:
        lines = [f"# {self.title(conversation_id)}", EXPORT_MARK]
        if self.user():  # a shared MedAssist: whose record this is
            lines.append(f"_Account: {self.user()}_\n")
        for m in self.messages(conversation_id):
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(m["created"]))
            if m["role"] == "user":
                lines += [f"## Question ({when})", "", m["content"], ""]
            else:
                if m["thinking"]:
                    lines += ["<details><summary>Reasoning</summary>", "", m["thinking"], "", "</details>", ""]
                # Which model answered, and where (a remote one names its server): part of the record.
                model = m["meta"].get("model")
                lines += [f"## Answer ({model})" if model else "## Answer", "", m["content"], ""]
                lines += sources_markdown(m["meta"])
        return "\n".join(lines)

    def close(self) -> None:
        self.db.close()


def sources_markdown(meta: dict) -> list[str]:
    """An answer's sources (Q&A with Sources on) as Markdown lines: what it says it stands on, and what it does not."""
    if meta.get("sources") is None:
        return []
    lines = []
    if meta.get("no_source"):
        lines += ["_No source found for this; answer from the model's own knowledge._", ""]
    if meta.get("checkable") is False and meta["sources"]:
        lines += ["_A Chinese answer is not checked against the English passages; citations are the model's own._", ""]
    if meta.get("numbers_not_in_sources"):
        lines += [f"_Numbers not found in the sources shown: {', '.join(meta['numbers_not_in_sources'])}_", ""]
    if meta["sources"]:
        lines += ["### Sources", ""]
        for i, src in enumerate(meta["sources"], 1):
            url = f" — {src['url']}" if src.get("url") else ""
            lines += [f"{i}. **{src['label']}**{url}", f"   > {src['text']}"]
        if any(src.get("origin") == "reference" for src in meta["sources"]):
            lines += ["", "_Reference passages: MedQuAD (Ben Abacha & Demner-Fushman, BMC Bioinformatics 2019), "
                          "text of NIH websites, CC BY 4.0._"]
        lines.append("")
    return lines


def main() -> None:
    from medassist.model.paths import data_dir

    h = History(data_dir() / "history.sqlite")
    if len(sys.argv) >= 2 and sys.argv[1] == "list":
        for c in h.conversations():
            print(c["id"], time.strftime("%Y-%m-%d %H:%M", time.localtime(c["updated"])), c["title"])
    elif len(sys.argv) == 4 and sys.argv[1] == "export":
        Path(sys.argv[3]).write_text(h.to_markdown(int(sys.argv[2])), encoding="utf-8")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
