"""The medical reference that ships with MedAssist (MedQuAD, NIH; assets/knowledge/), searchable offline.

    python -m medassist.papers.reference build                 # build the index now (the app does it on first use)
    python -m medassist.papers.reference search "signs of a heart attack" [--mode lexical|dense|hybrid]

Passages: each answer split at sentence ends into pieces of ~600 characters that keep the entry's source,
URL, focus and question type. Lexical search: SQLite FTS5 with BM25 and Porter stemming over focus, question
and passage (on disk: serving reads pages, not the whole index, into memory). Dense search: MiniLM vectors of
each entry's question (it names the topic and what is asked: "What are the treatments for Heart Attack ?");
embedding every passage would take ~15 minutes on 2 cores, the questions ~75 s, built in the background after
the lexical index, which answers from the first seconds. Hybrid: the cosine plus a weighted, normalised BM25
(scores fused, not ranks: benchmarks/retrieval.py measured both).
A Chinese question is searched through the bilingual term list (search.Terms), since the reference is English.
The index lives in the data folder's reference/ (not the user's data: "Delete all my data" leaves it).
"""
from __future__ import annotations

import hashlib
import json
import lzma
import re
import shutil
import sqlite3
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medassist.model.paths import ASSETS
from medassist.papers.search import Terms, find_abbreviations, fts_query, rrf
from medassist.papers.passages import chunk_sentences

SOURCE_FILE = ASSETS / "knowledge" / "medquad.jsonl.xz"
VERSION = 3  # bump when passages or the schema change: the index is rebuilt
PASSAGE_CHARS = 600
DENSE_STEP = 512  # questions embedded (and saved) at a time: ~2 s on 2 cores
# Below this fused score an entry is off topic: a Kubernetes question scored 0.34, a question on amoxicillin's dose
# for otitis 0.46 + words (the ear infection page), on-topic questions 0.6-0.9 (MiniLM; benchmarks/retrieval.py).
FLOOR = 0.4
RARE_BETA = 0.6  # the same when the question names a rare gene-like term (rare_term)
HYBRID_BETA = 0.2  # weight of the normalised BM25 beside the cosine (benchmarks/retrieval.py: 0.1-0.5 measured)
SOURCES = {  # MedQuAD source -> the name a clinician knows
    "CancerGov": "National Cancer Institute (cancer.gov PDQ)", "GARD": "NIH Genetic and Rare Diseases (GARD)",
    "GHR": "NIH Genetics Home Reference", "MPlusHealthTopics": "MedlinePlus", "NIDDK": "NIDDK (NIH)",
    "NINDS": "NINDS (NIH)", "NHLBI": "NHLBI (NIH)", "CDC": "CDC", "NIHSeniorHealth": "NIHSeniorHealth",
}
ATTRIBUTION = "MedQuAD (Ben Abacha & Demner-Fushman, BMC Bioinformatics 2019), NIH text, CC BY 4.0"
SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (id INTEGER PRIMARY KEY, key TEXT, source TEXT, url TEXT, focus TEXT,
  qtype TEXT, question TEXT, first INTEGER);
CREATE VIRTUAL TABLE IF NOT EXISTS passages USING fts5(focus, question, text, entry UNINDEXED,
  tokenize='porter unicode61 remove_diacritics 2');
CREATE TABLE IF NOT EXISTS abbreviations (short TEXT PRIMARY KEY, long TEXT);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT);
"""


@dataclass
class Hit:
    """One passage found, with what the page shows about where it comes from."""
    passage: int
    entry: int
    text: str
    title: str  # "Heart Attack — symptoms"
    source: str  # "NHLBI (NIH)"; a paper's file name for the user's library
    url: str = ""
    page: int | None = None  # a page for a paper from the user's library
    origin: str = "reference"  # "reference" | "library"


def split_answer(text: str, target: int = PASSAGE_CHARS) -> list[str]:
    """An answer as passages of whole sentences, ~target characters each (a list without stops is cut)."""
    return chunk_sentences(re.sub(r"\s+", " ", text).strip(), target, target)


def source_digest(path: Path = SOURCE_FILE) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


class Reference:
    """The index of the bundled reference. build() once (the app runs it in the background), then search()."""

    def __init__(self, folder: Path, embedder=None, source: Path = SOURCE_FILE):
        self.folder, self.source, self._embedder = Path(folder), Path(source), embedder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.db_path, self.vec_path = self.folder / "reference.sqlite", self.folder / "questions.npy"
        self.parts_dir = self.folder / "questions.parts"  # the vectors so far, while they are built
        self._busy = lambda: False
        self.db: sqlite3.Connection | None = None
        self.vectors: np.ndarray | None = None
        self.terms = Terms()  # the term list and the index's abbreviations, loaded when the index is opened
        self.state, self.fraction = "absent", 0.0  # absent | building | lexical (dense still building) | ready | error
        self.beta, self.beta_rare, self.floor = HYBRID_BETA, RARE_BETA, FLOOR
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        return self.source.exists()

    @property
    def embedder(self):
        if callable(self._embedder) and not hasattr(self._embedder, "encode"):
            self._embedder = self._embedder()
        return self._embedder

    def _meta(self, db) -> dict:
        return dict(db.execute("SELECT k, v FROM meta").fetchall())

    def _wanted(self) -> dict:
        return {"version": str(VERSION), "source": source_digest(self.source)}

    def open(self) -> bool:
        """Use an index built before, if it matches the shipped file; True when the lexical index is usable."""
        if not self.db_path.exists():
            return False
        db = sqlite3.connect(self.db_path, check_same_thread=False)
        try:
            meta = self._meta(db)
        except sqlite3.Error:
            meta = {}
        if meta.get("complete") != "1" or any(meta.get(k) != v for k, v in self._wanted().items()):
            db.close()
            return False
        self.db = db
        self._load_terms()
        if self.vec_path.exists() and meta.get("dense") == "1":
            self.vectors = np.load(self.vec_path).astype(np.float32)
            self.state = "ready"
        else:
            self.state = "lexical"
        return True

    def _load_terms(self) -> None:
        self.terms = Terms.load()
        self.terms.add_abbreviations(dict(self.db.execute("SELECT short, long FROM abbreviations").fetchall()))

    def build(self, progress=None, dense: bool = True, busy=None) -> None:
        """Lexical index (seconds), then the dense vectors (about a minute on 2 cores). progress(fraction, text).
        busy(): True while the user's work needs the cores (the app: the model is answering or summarising);
        the vectors are then not computed, so a first start's background indexing does not slow what the user
        waits for. They are saved in parts, so an app closed half-way goes on where it stopped."""
        self._busy = busy or (lambda: False)
        report = progress or (lambda f, s: None)

        def progress(fraction: float, stage: str) -> None:
            self.fraction = fraction  # the page reads it while the index is built
            report(fraction, stage)

        try:
            if self.db is None and not self.open():
                self._build_lexical(progress)
            if dense and self.vectors is None:
                self._build_dense(progress)
            progress(1.0, "ready")
        except Exception:
            self.state = "error"  # the caller says why (the app logs it and answers without the reference)
            raise

    def _build_lexical(self, progress) -> None:
        self.state = "building"
        progress(0.0, "reading the reference")
        rows = [json.loads(line) for line in lzma.open(self.source, "rt", encoding="utf-8") if line.strip()]
        tmp = self.db_path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        db = sqlite3.connect(tmp)
        db.executescript(SCHEMA)
        with db:
            for i, r in enumerate(rows):
                first = None
                for text in split_answer(r.get("answer", "")):
                    cur = db.execute("INSERT INTO passages(focus, question, text, entry) VALUES (?,?,?,?)",
                                     (r.get("focus", ""), r.get("question", ""), text, i))
                    first = first or cur.lastrowid
                db.execute("INSERT INTO entries(id, key, source, url, focus, qtype, question, first) "
                           "VALUES (?,?,?,?,?,?,?,?)", (i, r["id"], r["source"], r.get("url", ""), r.get("focus", ""),
                                                       r.get("qtype", ""), r.get("question", ""), first))
                if i % 2000 == 0:
                    progress(0.3 * i / len(rows), "indexing the reference")
            db.executemany("INSERT INTO abbreviations VALUES (?,?)",
                           find_abbreviations(r.get("answer", "") for r in rows).items())
            db.execute("INSERT INTO passages(passages) VALUES ('optimize')")
            db.executemany("INSERT INTO meta VALUES (?,?)", [*self._wanted().items(), ("complete", "1")])
        db.close()
        tmp.replace(self.db_path)  # a build stopped half-way leaves no index that looks whole
        self.vec_path.unlink(missing_ok=True)
        shutil.rmtree(self.parts_dir, ignore_errors=True)  # vectors of an older index's questions
        self.db = sqlite3.connect(self.db_path, check_same_thread=False)
        self._load_terms()
        self.state = "lexical"

    def _build_dense(self, progress) -> None:
        with self._lock:  # the app may search the words meanwhile, on the same connection
            questions = [q for (q,) in self.db.execute("SELECT question FROM entries ORDER BY id")]
        self.parts_dir.mkdir(exist_ok=True)
        out = []
        for i in range(0, len(questions), DENSE_STEP):
            batch, part = questions[i:i + DENSE_STEP], self.parts_dir / f"{i:06d}.npy"
            saved = np.load(part) if part.exists() else None  # embedded in an earlier run of the app
            if saved is None or len(saved) != len(batch):
                while self._busy():  # the user's work first: a part takes a few seconds of both cores
                    time.sleep(0.5)
                saved = self.embedder.encode(batch).astype(np.float16)
                tmp = self.parts_dir / "part.tmp.npy"
                np.save(tmp, saved)
                tmp.replace(part)
            out.append(saved)
            progress(0.3 + 0.7 * (i + len(batch)) / len(questions), "embedding the reference's questions")
        vectors = np.concatenate(out)
        tmp = self.folder / "questions.tmp.npy"
        np.save(tmp, vectors)
        tmp.replace(self.vec_path)
        shutil.rmtree(self.parts_dir, ignore_errors=True)
        with self._lock, self.db:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('dense', '1')")
        self.vectors = vectors.astype(np.float32)
        self.state = "ready"

    # --- search -------------------------------------------------------------------------------------------
    def expand(self, query: str) -> tuple[str, str]:
        """(FTS5 query, text for the dense search): the question plus the English names of what it names."""
        latin = re.sub(r"[\u3400-\u9fff]+", " ", query).strip()
        dense = " ".join([latin] + self.terms.english(query, per_concept=2)).strip() or query
        return fts_query(query, self.terms.english(query)), dense

    def lexical(self, query: str, k: int = 50) -> list[tuple[int, int, float]]:
        """[(passage rowid, entry, BM25 score > 0)] best first; focus and question weigh above the passage text."""
        q, _ = self.expand(query)
        if not q or self.db is None:
            return []
        with self._lock:
            rows = self.db.execute("SELECT rowid, entry, bm25(passages, 3.0, 2.0, 1.0) FROM passages WHERE passages "
                                   "MATCH ? ORDER BY 3 LIMIT ?", (q, k)).fetchall()
        return [(int(r), int(e), -float(s)) for r, e, s in rows]  # FTS5's bm25() is lower-is-better

    def dense(self, query: str) -> np.ndarray | None:
        """The cosine of every entry's question to the (expanded) question; None before the vectors exist."""
        if self.vectors is None:
            return None
        _, text = self.expand(query)
        return self.vectors @ self.embedder.encode([text])[0]

    def rare_term(self, query: str) -> bool:
        """Does the question name something only a few passages hold — a gene, a variant, a code ("SMN1", "C282Y")?
        MiniLM has no meaning for such names; the words are then what finds the answer."""
        for token in set(re.findall(r"\b[A-Za-z0-9-]{3,}\b", query)):
            if not (re.search(r"\d", token) or sum(c.isupper() for c in token) >= 2):
                continue
            with self._lock:
                n = self.db.execute("SELECT count(*) FROM (SELECT 1 FROM passages WHERE passages MATCH ? LIMIT 31)",
                                    ('"' + token.replace('"', "") + '"',)).fetchone()[0]
            if 1 <= n <= 30:
                return True
        return False

    def _passages_in(self, entry: int, fts: str, n: int) -> list[int]:
        """An entry's n passages that best match the question; its first one (what the topic is) if none does."""
        with self._lock:
            rows = self.db.execute("SELECT rowid FROM passages WHERE passages MATCH ? AND entry = ? ORDER BY "
                                   "bm25(passages, 3.0, 2.0, 1.0) LIMIT ?", (fts, entry, n)).fetchall() if fts else []
            if not rows:
                rows = self.db.execute("SELECT first FROM entries WHERE id = ?", (entry,)).fetchall()
        return [int(r[0]) for r in rows if r[0] is not None]

    def rank_entries(self, query: str, mode: str = "hybrid", k: int = 10) -> list[int]:
        """Entries best first (the benchmark's unit: a judged question names entries, not passages)."""
        return self._order(query, mode, k)

    def _order(self, query: str, mode: str, k: int = 50, floor: float = 0.0) -> list[int]:
        """Entries best first. hybrid: cosine + beta x BM25 / the best BM25 (scores, not ranks: the benchmark
        measured reciprocal-rank fusion lower, as "rrf"). floor: leave out entries scoring below it (dense and
        hybrid; BM25 alone has no scale to cut at)."""
        lex = self.lexical(query) if mode != "dense" else []
        best: dict[int, float] = {}
        for _, e, s in lex:
            best.setdefault(e, s)
        cos = self.dense(query) if mode != "lexical" else None
        if cos is None:
            return list(best)[:k]
        top = np.argsort(-cos)[:k]
        if mode == "rrf" and best:
            return rrf([[int(i) for i in top], list(best)])[:k]
        scores = cos.copy()
        if mode != "dense" and best:
            ceiling = max(best.values())
            beta = self.beta_rare if self.rare_term(query) else self.beta
            for e, s in best.items():
                scores[e] += beta * s / ceiling
        return [int(i) for i in np.argsort(-scores)[:k] if scores[i] >= floor]

    def search(self, query: str, k: int = 4, mode: str = "hybrid", per_entry: int = 2) -> list[Hit]:
        """The k best passages; at most per_entry from one entry (several answers are better than one's parts)."""
        if self.db is None or not query.strip():
            return []
        fts, _ = self.expand(query)
        out, seen = [], set()
        for e in self._order(query, mode, floor=self.floor):
            for p in self._passages_in(e, fts, per_entry):
                text = self._text(p)
                if text not in seen and len(out) < k:  # several NIH pages carry the same words
                    seen.add(text)
                    out.append(p)
            if len(out) >= k:
                break
        return self.hits(out)

    def _text(self, rowid: int) -> str:
        with self._lock:
            return self.db.execute("SELECT text FROM passages WHERE rowid=?", (rowid,)).fetchone()[0]

    def hits(self, rowids: list[int]) -> list[Hit]:
        out = []
        with self._lock:
            for p in rowids:
                text, e = self.db.execute("SELECT text, entry FROM passages WHERE rowid=?", (p,)).fetchone()
                src, url, focus, qtype = self.db.execute("SELECT source, url, focus, qtype FROM entries WHERE id=?",
                                                         (e,)).fetchone()
                out.append(Hit(int(p), int(e), text, f"{focus} — {qtype}" if qtype else focus,
                               SOURCES.get(src, src), url))
        return out

    def entry_key(self, entry: int) -> tuple[str, str, str]:
        """(MedQuAD id, focus, qtype) of an entry."""
        with self._lock:
            return self.db.execute("SELECT key, focus, qtype FROM entries WHERE id=?", (entry,)).fetchone()


def main(argv=None) -> None:
    import argparse

    from medassist.model.embed import load_embedder
    from medassist.model.paths import data_dir

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["build", "search"])
    ap.add_argument("query", nargs="*")
    ap.add_argument("--mode", default="hybrid", choices=["lexical", "dense", "hybrid", "rrf"])
    ap.add_argument("-k", type=int, default=4)
    a = ap.parse_args(argv)
    ref = Reference(data_dir() / "reference", load_embedder)
    started = time.perf_counter()
    if a.command == "build" or not ref.open():
        ref.build(lambda f, s: print(f"\r{f:4.0%} {s}".ljust(60), end="", flush=True))
        print(f"\nbuilt in {time.perf_counter() - started:.1f} s")
    if a.command == "search":
        for h in ref.search(" ".join(a.query), k=a.k, mode=a.mode):
            print(f"[{h.source}] {h.title}\n  {h.url}\n  {h.text[:300]}\n")


if __name__ == "__main__":
    main(sys.argv[1:])
