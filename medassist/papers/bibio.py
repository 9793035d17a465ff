"""BibTeX and RIS in and out of the library, through bibtexparser 2 and rispy (not hand-written parsers:
quoted and multi-line values, @string macros, LaTeX accents, books and chapters, "Smith, John" authors).

    from medassist.papers.bibio import parse_bibtex, parse_ris, to_bibtex, to_ris
    entries = parse_bibtex(open("zotero-export.bib", encoding="utf-8").read())

Authors are kept as written, one per item ("Müller, Hans"; "World Health Organization"; "张三") and stored
joined by "; ". The container — journal, book title or publisher — is Entry.journal; Entry.type is the
BibTeX entry type (article, book, incollection, …) and maps to and from RIS types (JOUR, BOOK, CHAP, …).
"""
from __future__ import annotations

import re

import bibtexparser
import rispy
from bibtexparser import middlewares as mw

from medassist.papers.library import Entry, authors_of

MAX_ENTRIES = 20_000  # per import: a larger file is read up to here (a library, not a database dump)
RIS_OF = {"article": "JOUR", "book": "BOOK", "incollection": "CHAP", "inbook": "CHAP", "inproceedings": "CPAPER",
          "conference": "CPAPER", "phdthesis": "THES", "mastersthesis": "THES", "techreport": "RPRT",
          "misc": "GEN", "online": "ELEC", "unpublished": "UNPB"}
BIB_OF = {v: k for k, v in reversed(list(RIS_OF.items()))} | {"JFULL": "article", "EJOUR": "article",
                                                               "EBOOK": "book", "ECHAP": "incollection"}
CONTAINER = {"article": "journal", "incollection": "booktitle", "inbook": "booktitle", "inproceedings": "booktitle",
             "conference": "booktitle", "book": "publisher", "phdthesis": "school", "mastersthesis": "school",
             "techreport": "institution"}


def _clean(value: str) -> str:
    return re.sub(r"\s+", " ", str(value).replace("{", "").replace("}", "")).strip()


def _year(value) -> int | None:
    m = re.search(r"\b(1[5-9]\d\d|20\d\d)\b", str(value or ""))
    return int(m.group(1)) if m else None


def parse_bibtex(text: str) -> list[Entry]:
    """Every entry with a title; blocks the parser cannot read are skipped (the rest still come in)."""
    lib = bibtexparser.parse_string(text, append_middleware=[mw.LatexDecodingMiddleware(), mw.SeparateCoAuthors()])
    out = []
    for e in lib.entries[:MAX_ENTRIES]:
        f = {k.lower(): v.value for k, v in e.fields_dict.items()}
        if not f.get("title"):
            continue
        kind = e.entry_type.lower()
        authors = f.get("author") or f.get("editor") or []
        authors = [_clean(a) for a in (authors if isinstance(authors, list) else [authors]) if _clean(a)]
        container = next((_clean(f[k]) for k in (CONTAINER.get(kind, "journal"), "journal", "booktitle", "publisher")
                          if f.get(k)), "")
        out.append(Entry(_clean(f["title"]), "; ".join(authors), _year(f.get("year") or f.get("date")), container,
                         _clean(f.get("doi", "")), "imported", type=kind if kind in RIS_OF else "misc"))
    return out


def _key(e: Entry, used: set[str]) -> str:
    first = re.split(r"[,\s]", (authors_of(e) or ["anon"])[0].strip())[0]
    word = next((w for w in re.findall(r"[A-Za-z]{4,}", e.title)), "ref")
    base = re.sub(r"[^A-Za-z0-9]", "", f"{first}{e.year or ''}{word}").lower() or "ref"
    key, n = base, 0
    while key in used:
        n += 1
        key = f"{base}{chr(ord('a') + n - 1)}" if n <= 26 else f"{base}{n}"
    used.add(key)
    return key


def to_bibtex(entries: list[Entry]) -> str:
    lib = bibtexparser.Library()
    used: set[str] = set()
    for e in entries:
        kind = e.type if e.type in RIS_OF else "article"
        fields = [bibtexparser.model.Field("title", e.title)]
        if authors_of(e):
            fields.append(bibtexparser.model.Field("author", " and ".join(authors_of(e))))
        if e.year:
            fields.append(bibtexparser.model.Field("year", str(e.year)))
        if e.journal:
            fields.append(bibtexparser.model.Field(CONTAINER.get(kind, "journal"), e.journal))
        if e.doi:
            fields.append(bibtexparser.model.Field("doi", e.doi))
        lib.add(bibtexparser.model.Entry(kind, _key(e, used), fields))
    # Values braced, UTF-8 as is (biber and BibTeX 0.99 with inputenc read it; Zotero and EndNote do)
    return bibtexparser.write_string(lib, prepend_middleware=[mw.MergeCoAuthors()])


def parse_ris(text: str) -> list[Entry]:
    out = []
    for r in rispy.loads(text)[:MAX_ENTRIES]:
        title = r.get("title") or r.get("primary_title") or ""
        if not title:
            continue
        authors = (r.get("authors") or []) + (r.get("first_authors") or [])
        kind = BIB_OF.get(r.get("type_of_reference", "JOUR"), "misc")
        container = (r.get("journal_name") or r.get("secondary_title") or r.get("alternate_title3")
                     or r.get("alternate_title1") or r.get("publisher") or "")
        out.append(Entry(_clean(title), "; ".join(_clean(a) for a in authors if _clean(a)),
                         _year(r.get("year") or r.get("publication_year") or r.get("date")), _clean(container),
                         _clean(r.get("doi", "")), "imported", type=kind))
    return out


def to_ris(entries: list[Entry]) -> str:
    recs = []
    for e in entries:
        kind = RIS_OF.get(e.type, "JOUR")
        rec = {"type_of_reference": kind, "title": e.title, "authors": authors_of(e)}
        if e.year:
            rec["year"] = str(e.year)
        if e.journal:
            rec["publisher" if kind == "BOOK" else "secondary_title" if kind in ("CHAP", "CPAPER") else
                "journal_name"] = e.journal
        if e.doi:
            rec["doi"] = e.doi
        recs.append(rec)
    return rispy.dumps(recs)
