"""The user's local reference library: papers they uploaded and the references parsed from them.

    python -m medassist.papers.library add paper.pdf [more.pdf ...]      # add papers (and their reference lists)
    python -m medassist.papers.library list
    python -m medassist.papers.library suggest "text of an outline section"
    python -m medassist.papers.library export refs.bib | refs.ris        # everything, as BibTeX or RIS

Stored in SQLite in the user data folder (deleted by "Delete all my data"). Suggestions rank library
entries by embedding similarity to a text; nothing outside the library is ever suggested, so no
reference can be invented. BibTeX and RIS export (for Zotero / EndNote) and import round-trip.
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
  source TEXT, key TEXT UNIQUE, vector BLOB, added REAL);
"""


@dataclass
class Entry:
    title: str
    authors: str = ""  # "Smith J, Lee K"
    year: int | None = None
    journal: str = ""
    doi: str = ""
    kind: str = "reference"  # "paper" (uploaded) | "reference" (from a reference list) | "imported"
    source: str = ""  # the file it came from
    id: int | None = None

    @property
    def key(self) -> str:
        """Identity for de-duplication: the DOI, else the normalised title."""
        return ("doi:" + self.doi.lower()) if self.doi else "t:" + re.sub(r"\W+", " ", self.title.lower()).strip()

    def cite(self) -> str:
        parts = [self.authors, f"({self.year})" if self.year else "", self.title, self.journal,
                 f"doi:{self.doi}" if self.doi else ""]
        return ". ".join(p.strip(". ") for p in parts if p)


class Library:
    def __init__(self, path: str | Path, embedder, redact=None):
        """embedder: an object with encode(), or a function returning one (loaded on first use). redact: applied
        to every title and file name before it is written (the app passes store.redact; a file named after a
        patient must not reach the disk by that name)."""
        self.redact = redact or (lambda text: text)
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._embedder = embedder
        self._lock = threading.Lock()
        self.db = sqlite3.connect(self.path, check_same_thread=False)
        self.db.executescript(SCHEMA)

    @property
    def embedder(self):
        if callable(self._embedder) and not hasattr(self._embedder, "encode"):
            self._embedder = self._embedder()
        return self._embedder

    def add(self, entries: list[Entry]) -> int:
        """Adds the entries not already present (same DOI or title); returns how many were new."""
        entries = [e for e in entries if len(e.title.strip()) >= 8]
        for e in entries:
            # "_" and "-" joined words in file names ("John_Smith_discharge.pdf") are words to the redaction
            e.title, e.source = self.redact(e.title), self.redact(re.sub(r"[_]+", " ", e.source))
        with self._lock:
            known = {r[0] for r in self.db.execute("SELECT key FROM entries")}
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
                                "vector, added) VALUES (?,?,?,?,?,?,?,?,?,?)",
                                (e.kind, e.title, e.authors, e.year, e.journal, e.doi, e.source, e.key,
                                 np.asarray(v, dtype=np.float32).tobytes(), time.time()))
        return len(new)

    def add_paper(self, paper, source: str) -> int:
        """An uploaded paper (app.pdfread.Paper) and every reference parsed from it."""
        entries = [Entry(paper.title, kind="paper", source=source)] if paper.title else []
        entries += [Entry(r.title, r.authors, r.year, r.journal, r.doi, "reference", source)
                    for r in paper.references if r.title]
        return self.add(entries)

    def entries(self) -> list[Entry]:
        with self._lock:
            rows = self.db.execute("SELECT id, kind, title, authors, year, journal, doi, source FROM entries "
                                   "ORDER BY id").fetchall()
        return [Entry(t, a, y, j, d, k, s, i) for i, k, t, a, y, j, d, s in rows]

    def get(self, ids: list[int]) -> list[Entry]:
        wanted = {int(i) for i in ids}
        return [e for e in self.entries() if e.id in wanted]

    def suggest(self, text: str, k: int = 5, min_score: float = 0.2) -> list[tuple[Entry, float]]:
        """Library entries most similar to the text, best first (only entries that exist in the library)."""
        with self._lock:
            rows = self.db.execute("SELECT id, vector FROM entries ORDER BY id").fetchall()
        if not rows or not text.strip():
            return []
        matrix = np.stack([np.frombuffer(v, dtype=np.float32) for _, v in rows])
        scores = matrix @ self.embedder.encode([text])[0]
        by_id = {e.id: e for e in self.entries()}
        out = [(by_id[rows[i][0]], float(scores[i])) for i in np.argsort(-scores)[:k]]
        return [(e, s) for e, s in out if s >= min_score]

    def delete_all(self) -> None:
        with self._lock, self.db:
            self.db.execute("DELETE FROM entries")
        with self._lock:
            self.db.execute("VACUUM")


# --- BibTeX and RIS ---------------------------------------------------------------------------

def _authors(entry: Entry) -> list[str]:
    return [a.strip() for a in re.split(r",\s*(?=[A-Z][\w'’-]+\s+[A-Z]{1,3}\b)|;\s*", entry.authors) if a.strip()] \
        if entry.authors else []


def _bib_key(e: Entry, used: set[str]) -> str:
    first = (_authors(e) or ["anon"])[0].split()[0]
    word = next((w for w in re.findall(r"[A-Za-z]{4,}", e.title)), "ref")
    base = re.sub(r"\W", "", f"{first}{e.year or ''}{word}").lower() or "ref"
    key, n = base, 1
    while key in used:
        n += 1
        key = f"{base}{chr(ord('a') + n - 2)}"
    used.add(key)
    return key


def _bib_escape(s: str) -> str:
    return s.replace("\\", "").replace("{", "").replace("}", "")


def to_bibtex(entries: list[Entry]) -> str:
    used: set[str] = set()
    out = []
    for e in entries:
        fields = {"title": e.title, "author": " and ".join(_authors(e)), "year": str(e.year or ""),
                  "journal": e.journal, "doi": e.doi}
        body = ",\n".join(f"  {k} = {{{_bib_escape(v)}}}" for k, v in fields.items() if v)
        out.append(f"@article{{{_bib_key(e, used)},\n{body}\n}}")
    return "\n\n".join(out) + "\n"


def parse_bibtex(text: str) -> list[Entry]:
    entries = []
    for block in re.findall(r"@\w+\s*\{[^,]*,(.*?)\n\}", text, flags=re.S):
        f = {k.lower(): v.strip() for k, v in re.findall(r"(\w+)\s*=\s*\{(.*?)\}\s*,?\s*$", block, flags=re.M)}
        if f.get("title"):
            entries.append(Entry(f["title"], ", ".join(a.strip() for a in f.get("author", "").split(" and ") if a.strip()),
                                 int(f["year"]) if f.get("year", "").isdigit() else None, f.get("journal", ""),
                                 f.get("doi", ""), "imported"))
    return entries


def to_ris(entries: list[Entry]) -> str:
    out = []
    for e in entries:
        lines = ["TY  - JOUR"] + [f"AU  - {a}" for a in _authors(e)] + [f"TI  - {e.title}"]
        lines += [f"PY  - {e.year}"] if e.year else []
        lines += [f"JO  - {e.journal}"] if e.journal else []
        lines += [f"DO  - {e.doi}"] if e.doi else []
        out.append("\n".join(lines + ["ER  - "]))
    return "\n\n".join(out) + "\n"


def parse_ris(text: str) -> list[Entry]:
    entries, cur = [], {}
    for line in text.splitlines():
        m = re.match(r"^([A-Z][A-Z0-9])  - ?(.*)$", line)
        if not m:
            continue
        tag, value = m.group(1), m.group(2).strip()
        if tag == "ER":
            if cur.get("TI"):
                year = cur.get("PY", [""])[0][:4]
                entries.append(Entry(cur["TI"][0], ", ".join(cur.get("AU", [])), int(year) if year.isdigit() else None,
                                     cur.get("JO", cur.get("T2", [""]))[0], cur.get("DO", [""])[0], "imported"))
            cur = {}
        else:
            cur.setdefault(tag, []).append(value)
    return entries


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
        out.write_text(to_ris(lib.entries()) if out.suffix == ".ris" else to_bibtex(lib.entries()), encoding="utf-8")
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
