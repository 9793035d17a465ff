"""The user's local reference library: papers they uploaded and the references parsed from them.

    python -m medassist.papers.library add paper.pdf [more.pdf ...]      # add papers (and their reference lists)
    python -m medassist.papers.library list
    python -m medassist.papers.library suggest "text of an outline section"
    python -m medassist.papers.library export refs.bib | refs.ris        # everything, as BibTeX or RIS

Stored in SQLite in the user data folder (deleted by "Delete all my data"). Suggestions rank library
entries by embedding similarity to a text; nothing outside the library is ever suggested, so no
reference can be invented. BibTeX and RIS import and export (Zotero / EndNote): bibio.py.
"""
from __future__ import annotations

import re
import sqlite3
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
  id INTEGER PRIMARY KEY, kind TEXT, title TEXT, authors TEXT, year INTEGER, journal TEXT, doi TEXT,
  source TEXT, key TEXT, vector BLOB, added REAL, type TEXT NOT NULL DEFAULT 'article',
  user TEXT NOT NULL DEFAULT '', UNIQUE(user, key));
"""
COLUMNS = "id, kind, title, authors, year, journal, doi, source, key, vector, added, type, user"


@dataclass
class Entry:
    title: str
    authors: str = ""  # "Smith, John; Lee, K." (older rows: "Smith J, Lee K")
    year: int | None = None
    journal: str = ""
    doi: str = ""
    kind: str = "reference"  # "paper" (uploaded) | "reference" (from a reference list) | "imported"
    source: str = ""  # the file it came from
    id: int | None = None
    type: str = "article"  # the BibTeX entry type: article, book, incollection, … (bibio.py maps RIS types)

    @property
    def key(self) -> str:
        """Identity for de-duplication: the DOI, else the normalised title."""
        return ("doi:" + self.doi.lower()) if self.doi else "t:" + re.sub(r"\W+", " ", self.title.lower()).strip()

    def cite(self) -> str:
        parts = [self.authors, f"({self.year})" if self.year else "", self.title, self.journal,
                 f"doi:{self.doi}" if self.doi else ""]
        return ". ".join(p.strip(". ") for p in parts if p)


class Library:
    def __init__(self, path: str | Path, embedder, redact=None, user=None):
        """embedder: an object with encode(), or a function returning one (loaded on first use). redact: applied
        to every title and file name before it is written (the app passes store.redact; a file named after a
        patient must not reach the disk by that name). user: who is asking, called on every read and write
        ("" on a one-person install): each account has its own library."""
        self.redact = redact or (lambda text: text)
        self.user = user or (lambda: "")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._embedder = embedder
        self._lock = threading.Lock()
        self.db = sqlite3.connect(self.path, check_same_thread=False)
        self.db.executescript(SCHEMA)
        if "user" not in {r[1] for r in self.db.execute("PRAGMA table_info(entries)")}:
            self._migrate()

    @property
    def embedder(self):
        if callable(self._embedder) and not hasattr(self._embedder, "encode"):
            self._embedder = self._embedder()
        return self._embedder

    def _migrate(self) -> None:
        """A library from before 0.4 (one user, key UNIQUE on its own): rebuilt with a type and a user column."""
        old = {r[1] for r in self.db.execute("PRAGMA table_info(entries)")}
        keep = [c for c in COLUMNS.split(", ") if c in old]
        with self.db:
            self.db.execute("ALTER TABLE entries RENAME TO entries_old")
            self.db.executescript(SCHEMA)
            self.db.execute(f"INSERT INTO entries({', '.join(keep)}) SELECT {', '.join(keep)} FROM entries_old")
            self.db.execute("DROP TABLE entries_old")

    def add(self, entries: list[Entry]) -> int:
        """Adds the entries not already present (same DOI or title); returns how many were new."""
        entries = [e for e in entries if len(e.title.strip()) >= 8]
        for e in entries:
            # "_" and "-" joined words in file names ("John_Smith_discharge.pdf") are words to the redaction
            e.title, e.source = self.redact(e.title), self.redact(re.sub(r"[_]+", " ", e.source))
        with self._lock:
            known = {r[0] for r in self.db.execute("SELECT key FROM entries WHERE user=?", (self.user(),))}
        new, seen = [], set()
        for e in entries:
            if e.key not in known and e.key not in seen:
                new.append(e)
                seen.add(e.key)
        if not new:
            return 0
        vectors = self.embedder.encode([f"{e.title}. {e.journal}" for e in new])
        with self._lock, self.db:
            for e, v in zip(new, vectors):
                self.db.execute("INSERT OR IGNORE INTO entries(kind, title, authors, year, journal, doi, source, key, "
                                "vector, added, type, user) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                                (e.kind, e.title, e.authors, e.year, e.journal, e.doi, e.source, e.key,
                                 np.asarray(v, dtype=np.float32).tobytes(), time.time(), e.type, self.user()))
        return len(new)

    def add_paper(self, paper, source: str) -> int:
        """An uploaded paper (app.pdfread.Paper) and every reference parsed from it."""
        entries = [Entry(paper.title, kind="paper", source=source)] if paper.title else []
        entries += [Entry(r.title, r.authors, r.year, r.journal, r.doi, "reference", source)
                    for r in paper.references if r.title]
        return self.add(entries)

    def entries(self) -> list[Entry]:
        with self._lock:
            rows = self.db.execute("SELECT id, kind, title, authors, year, journal, doi, source, type FROM entries "
                                   "WHERE user=? ORDER BY id", (self.user(),)).fetchall()
        return [Entry(t, a, y, j, d, k, s, i, ty or "article") for i, k, t, a, y, j, d, s, ty in rows]

    def get(self, ids: list[int]) -> list[Entry]:
        wanted = {int(i) for i in ids}
        return [e for e in self.entries() if e.id in wanted]

    def suggest(self, text: str, k: int = 5, min_score: float = 0.2) -> list[tuple[Entry, float]]:
        """Library entries most similar to the text, best first (only entries that exist in the library)."""
        with self._lock:
            rows = self.db.execute("SELECT id, vector FROM entries WHERE user=? ORDER BY id", (self.user(),)).fetchall()
        if not rows or not text.strip():
            return []
        matrix = np.stack([np.frombuffer(v, dtype=np.float32) for _, v in rows])
        scores = matrix @ self.embedder.encode([text])[0]
        by_id = {e.id: e for e in self.entries()}
        out = [(by_id[rows[i][0]], float(scores[i])) for i in np.argsort(-scores)[:k]]
        return [(e, s) for e, s in out if s >= min_score]

    def delete_all(self) -> None:
        with self._lock, self.db:
            self.db.execute("DELETE FROM entries WHERE user=?", (self.user(),))
        with self._lock:
            self.db.execute("VACUUM")


def authors_of(entry: Entry) -> list[str]:
    """The authors one by one: "; "-joined as stored now, or the older "Smith J, Lee K" form."""
    if not entry.authors:
        return []
    if ";" in entry.authors:
        return [a.strip() for a in entry.authors.split(";") if a.strip()]
    return [a.strip() for a in re.split(r",\s*(?=[A-Z][\w'’-]+\s+[A-Z]{1,3}\b)", entry.authors) if a.strip()]


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__)
        return
    if not argv or argv[0] not in ("add", "list", "suggest", "export"):
        sys.exit(__doc__)
    from medassist.model.paths import data_dir
    from medassist.model.embed import load_embedder

    lib = Library(data_dir() / "library.sqlite", load_embedder)
    if argv[0] == "add":
        from medassist.papers.pdfread import PdfError, read_pdf

        for f in argv[1:]:
            try:
                print(f"{f}: {lib.add_paper(read_pdf(f), Path(f).name)} new entries")
            except PdfError as e:
                print(f"{f}: {e}")
    elif argv[0] == "list":
        for e in lib.entries():
            print(f"{e.id:5d} [{e.kind}] {e.cite()}")
    elif argv[0] == "suggest":
        for e, s in lib.suggest(" ".join(argv[1:])):
            print(f"{s:.2f}  {e.cite()}")
    else:
        out = Path(argv[1])
        from medassist.papers.bibio import to_bibtex, to_ris

        out.write_text(to_ris(lib.entries()) if out.suffix == ".ris" else to_bibtex(lib.entries()), encoding="utf-8")
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
