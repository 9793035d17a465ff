"""Clinicians' feedback on Q&A answers: a rating (👍 / 👎) and an optional corrected answer, kept with the answer
in the history database (per account, redacted, deleted with its conversation), and exported as fine-tuning data.

    python -m medassist.store.feedback export feedback.jsonl [--data-dir DIR]   # medical-o1 records for training

Export: one record per rated answer a clinician either approved (👍: the model's answer) or corrected (the
correction) — Question, Complex_CoT (the model's reasoning), Response — in the format finetune/data.py reads, so a
department's next fine-tune learns from its own clinicians (`medassist-train --data feedback.jsonl`). A 👎 without
a correction says what not to learn, not what to: it is counted and left out.
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import time
from pathlib import Path

from medassist.store.safety import redact

SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    message_id INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    rating INTEGER NOT NULL DEFAULT 0, correction TEXT NOT NULL DEFAULT '', created REAL NOT NULL);
"""


class Feedback:
    """On History's connection and lock: every read and write is scoped to History's current account."""

    def __init__(self, history):
        self.h = history
        with history._lock:
            history.db.executescript(SCHEMA)

    def answer_ids(self, conversation_id: int | None) -> list[int]:
        """The ids of the conversation's stored answers, in order, if this account owns it. The Q&A tab keeps the
        id of each answer it shows (a regenerated answer replaces the one shown, while both stay stored)."""
        if conversation_id is None:
            return []
        with self.h._lock:
            rows = self.h.db.execute("SELECT m.id FROM messages m JOIN conversations c ON c.id = m.conversation_id "
                                     "WHERE m.conversation_id=? AND c.user=? AND m.role='assistant' ORDER BY m.id",
                                     (int(conversation_id), self.h.user())).fetchall()
        return [r[0] for r in rows]

    def rate(self, answer_id: int | None, rating: int | None = None, correction: str | None = None) -> bool:
        """Record a rating (+1 / -1) and/or a correction for one stored answer (its id, as answer_ids gives it);
        False when it is not an answer of this account's."""
        if answer_id is None:
            return False
        with self.h._lock, self.h.db:
            row = self.h.db.execute("SELECT m.conversation_id FROM messages m JOIN conversations c ON "
                                    "c.id = m.conversation_id WHERE m.id=? AND c.user=? AND m.role='assistant'",
                                    (int(answer_id), self.h.user())).fetchone()
            if row is None:
                return False
            old = self.h.db.execute("SELECT rating, correction FROM feedback WHERE message_id=?", (answer_id,)).fetchone()
            # A correction says the answer was wrong, even one rated 👍 before; a rating alone keeps the correction.
            rating = rating if rating is not None else -1 if correction else (old[0] if old else -1)
            correction = redact(correction.strip()) if correction is not None else (old[1] if old else "")
            self.h.db.execute("INSERT OR REPLACE INTO feedback(message_id, rating, correction, created) "
                              "VALUES (?,?,?,?)", (int(answer_id), rating, correction, time.time()))
        self.h.audit.record("feedback", conversation=row[0], rating=rating, corrected=bool(correction))
        return True

    def ratings(self, answer_ids: list) -> list[str | None]:
        """Each answer's stored rating as the chat's buttons show it: "Like", "Dislike" or None (also for None ids:
        an answer not stored, an error message)."""
        ids = [int(i) for i in answer_ids if i is not None]
        with self.h._lock:
            rows = dict(self.h.db.execute(
                f"SELECT f.message_id, f.rating FROM feedback f JOIN messages m ON m.id = f.message_id JOIN "
                f"conversations c ON c.id = m.conversation_id WHERE c.user=? AND f.message_id IN "
                f"({','.join('?' * len(ids))})", (self.h.user(), *ids)).fetchall()) if ids else {}
        return [None if not rows.get(i) else "Like" if rows[i] > 0 else "Dislike" for i in answer_ids]

    def counts(self) -> dict:
        """This account's feedback: ratings up and down, and corrections."""
        with self.h._lock:
            rows = self.h.db.execute("SELECT f.rating, f.correction != '' FROM feedback f JOIN messages m ON "
                                     "m.id = f.message_id JOIN conversations c ON c.id = m.conversation_id "
                                     "WHERE c.user=?", (self.h.user(),)).fetchall()
        return {"up": sum(r[0] > 0 for r in rows), "down": sum(r[0] < 0 for r in rows),
                "corrections": sum(bool(r[1]) for r in rows)}


def export(db_path: str | Path, out: str | Path) -> dict:
    """Every account's approved or corrected answers in this database as medical-o1 JSONL; returns the counts."""
    db = sqlite3.connect(f"file:{Path(db_path)}?mode=ro", uri=True)
    has = db.execute("SELECT 1 FROM sqlite_master WHERE name='feedback'").fetchone()
    rows = db.execute("SELECT m.conversation_id, m.id, m.content, m.thinking, f.rating, f.correction FROM feedback f "
                      "JOIN messages m ON m.id = f.message_id ORDER BY m.id").fetchall() if has else []
    n = {"written": 0, "approved": 0, "corrected": 0, "rejected_without_correction": 0, "without_reasoning": 0}
    with open(out, "w", encoding="utf-8") as f:
        for cid, mid, answer, thinking, rating, correction in rows:
            q = db.execute("SELECT content FROM messages WHERE conversation_id=? AND id<? AND role='user' "
                           "ORDER BY id DESC LIMIT 1", (cid, mid)).fetchone()
            response = correction or (answer if rating > 0 else "")
            if not q or not response:
                n["rejected_without_correction"] += 1
                continue
            if not (thinking or "").strip():  # medical-o1 records carry the reasoning: data.py would skip it
                n["without_reasoning"] += 1
                continue
            n["corrected" if correction else "approved"] += 1
            f.write(json.dumps({"Question": q[0], "Complex_CoT": thinking or "", "Response": response},
                               ensure_ascii=False) + "\n")
            n["written"] += 1
    db.close()
    return n


def main(argv=None) -> None:
    from medassist.model.paths import data_dir

    ap = argparse.ArgumentParser(description="Export clinicians' feedback as fine-tuning data.")
    ap.add_argument("command", choices=["export"])
    ap.add_argument("out", help="the JSONL file to write")
    ap.add_argument("--data-dir", default=None, help="MedAssist's data folder (default: the app's)")
    a = ap.parse_args(argv)
    db = Path(a.data_dir or data_dir()) / "history.sqlite"
    if not db.exists():
        raise SystemExit(f"no history at {db}")
    n = export(db, a.out)
    print(f"wrote {n['written']} records to {a.out} ({n['approved']} approved, {n['corrected']} corrected; "
          f"{n['rejected_without_correction']} rated down without a correction and {n['without_reasoning']} "
          "without reasoning left out)")


if __name__ == "__main__":
    main()
