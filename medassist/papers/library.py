"""The user's local reference library: papers they uploaded and the references parsed from them.

    python -m medassist.papers.library add paper.pdf [more.pdf ...]      # add papers (and their reference lists)
    python -m medassist.papers.library list
    python -m medassist.papers.library suggest "text of an outline section"
    python -m medassist.papers.library export refs.bib | refs.ris        # everything, as BibTeX or RIS

Stored in SQLite in the user data folder (deleted by "Delete all my data", with secure_delete so the
deleted text is overwritten, not only unlinked). Suggestions rank library entries by embedding similarity to
a text; nothing outside the library is ever suggested, so no reference can be invented. BibTeX and RIS
import and export (Zotero / EndNote): bibio.py. An uploaded paper's page-tagged passages (redacted, with
their embeddings) are kept too, so Q&A can search every paper the user has read (search_passages).
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
CREATE TABLE IF NOT EXISTS passages (id INTEGER PRIMARY KEY, user TEXT NOT NULL, paper TEXT, source TEXT,
  page INTEGER, text TEXT, vector BLOB);
CREATE VIRTUAL TABLE IF NOT EXISTS passages_fts USING fts5(text, tokenize='porter unicode61 remove_diacritics 2');
"""
BETA = 0.2  # the same fusion as the bundled reference (reference.HYBRID_BETA, benchmarks/retrieval.py)
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
        self.db.execute("PRAGMA secure_delete = ON")  # deleted rows are overwritten with zeros, not left in free pages
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

    def add_paper(self, paper, source: str, index=None) -> int:
        """An uploaded paper (pdfread.Paper) and every reference parsed from it; its passages too (index: the
        paper's passages.PaperIndex when the caller has one, else built here). Returns the new entries."""
        entries = [Entry(paper.title, kind="paper", source=source)] if paper.title else []
        entries += [Entry(r.title, r.authors, r.year, r.journal, r.doi, "reference", source)
                    for r in paper.references if r.title]
        new = self.add(entries)
        if index is None and getattr(paper, "sections", None):
            from medassist.papers.passages import PaperIndex
            from medassist.papers.pdfread import PdfError

            try:
                index = PaperIndex.build(paper, self.embedder)
            except PdfError:
                index = None  # no body text: its title and references are still entries
        if index is not None:
            self.add_passages(paper.title, source, [(p.page, p.text) for p in index.passages], index.vectors)
        return new

    def add_passages(self, title: str, source: str, passages: list[tuple[int, str]], vectors) -> int:
        """An uploaded paper's [(page, text)] and their embeddings, searchable from Q&A; once per paper and account.
        The text is redacted before it is written (a case report names its patient)."""
        title, source = self.redact(title or source), self.redact(re.sub(r"[_]+", " ", source))
        user = self.user()
        with self._lock:
            if self.db.execute("SELECT 1 FROM passages WHERE user=? AND paper=? AND source=? LIMIT 1",
                               (user, title, source)).fetchone():
                return 0
        with self._lock, self.db:
            for (page, text), v in zip(passages, vectors):
                text = self.redact(text)
                cur = self.db.execute("INSERT INTO passages(user, paper, source, page, text, vector) VALUES (?,?,?,?,?,?)",
                                      (user, title, source, int(page), text,
                                       np.asarray(v, dtype=np.float16).tobytes()))
                self.db.execute("INSERT INTO passages_fts(rowid, text) VALUES (?,?)", (cur.lastrowid, text))
        return len(passages)

    def search_passages(self, query: str, fts: str = "", k: int = 4) -> list[tuple[dict, float]]:
        """This account's paper passages best first: cosine + BETA x normalised BM25 (fts: an FTS5 query for the
        question, search.fts_query). [({paper, source, page, text, id}, cosine)]."""
        with self._lock:
            rows = self.db.execute("SELECT id, paper, source, page, text, vector FROM passages WHERE user=? ORDER BY id",
                                   (self.user(),)).fetchall()
            lex = self.db.execute("SELECT rowid, bm25(passages_fts) FROM passages_fts WHERE passages_fts MATCH ? "
                                  "ORDER BY 2 LIMIT 50", (fts,)).fetchall() if fts and rows else []
        if not rows or not query.strip():
            return []
        cos = np.stack([np.frombuffer(r[5], dtype=np.float16) for r in rows]).astype(np.float32) @ \
            self.embedder.encode([query])[0]
        scores = cos.copy()
        position = {r[0]: i for i, r in enumerate(rows)}
        lex = [(position[rid], -s) for rid, s in lex if rid in position]  # another account's rows are not ours
        if lex:
            ceiling = max(s for _, s in lex) or 1.0
            for i, s in lex:
                scores[i] += BETA * s / ceiling
        return [({"id": rows[i][0], "paper": rows[i][1], "source": rows[i][2], "page": rows[i][3], "text": rows[i][4]},
                 float(cos[i])) for i in np.argsort(-scores)[:k]]

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
        user = self.user()
        with self._lock, self.db:
            self.db.execute("DELETE FROM entries WHERE user=?", (user,))
            ids = [r[0] for r in self.db.execute("SELECT id FROM passages WHERE user=?", (user,))]
            self.db.executemany("DELETE FROM passages_fts WHERE rowid=?", [(i,) for i in ids])
            self.db.execute("DELETE FROM passages WHERE user=?", (user,))
            # FTS5 keeps deleted terms in its index segments until they are merged: merge them now
            self.db.execute("INSERT INTO passages_fts(passages_fts) VALUES ('optimize')")
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
