"""Local audit log: one JSON line per action (time, action, model, input hash, durations, counts).

It never holds patient text: inputs are recorded as a salted SHA-256 (the salt lives beside the
log, so hashes can't be matched across installations), which lets a user prove which question
produced which answer without the log revealing either.

    python -m medassist.store.audit            # print the log
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
import time
from pathlib import Path


class AuditLog:
    def __init__(self, folder: str | Path, user=None):
        self.folder = Path(folder)
        self.user = user or (lambda: "")  # who acts (an account name; "" on a one-person install)
        self.path = self.folder / "audit.jsonl"
        self._lock = threading.Lock()

    def _salt(self) -> bytes:
        p = self.folder / "audit.salt"
        if not p.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            p.write_bytes(secrets.token_bytes(16))
            os.chmod(p, 0o600)
        return p.read_bytes()

    def hash(self, text: str) -> str:
        return hashlib.sha256(self._salt() + text.encode("utf-8")).hexdigest()[:16]

    def record(self, action: str, *, text: str | None = None, **fields) -> None:
        """fields must be numbers, names or flags, never free text from the user."""
        entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "action": action}
        if self.user():
            entry["user"] = self.user()
        if text is not None:
            entry["input_sha256"] = self.hash(text)
            entry["input_chars"] = len(text)
        if isinstance(fields.get("flags"), (list, tuple)):
            # which red flags (suicide, bleeding …) is clinical information about a person: only how many
            fields["red_flags"] = len(fields.pop("flags"))
        entry.update({k: v for k, v in fields.items() if isinstance(v, (int, float, bool, type(None))) or k in
                      ("model", "finish", "format")})
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def entries(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def delete(self) -> None:
        """This user's entries; on a one-person install the whole log and its salt."""
        name = self.user()
        with self._lock:
            if not name:
                self.path.unlink(missing_ok=True)
                (self.folder / "audit.salt").unlink(missing_ok=True)
                return
            if self.path.exists():
                keep = [ln for ln in self.path.read_text(encoding="utf-8").splitlines()
                        if ln.strip() and json.loads(ln).get("user") != name]
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text("".join(k + "\n" for k in keep), encoding="utf-8")
                os.replace(tmp, self.path)


if __name__ == "__main__":
    from medassist.model.paths import data_dir

    for e in AuditLog(data_dir()).entries():
        print(json.dumps(e, ensure_ascii=False))
