"""Read a paper's PDF into sections with page numbers, for the Literature and Outline tabs.

    python -m medassist.papers.pdfread paper.pdf            # prints the sections found and the parsed references

What it does: text in reading order (two columns handled band by band), running headers,
footers and page numbers removed, hyphenated line breaks joined, ligatures expanded; headings
found from font size and weight and mapped to IMRaD (English and Chinese headings); a structured
abstract split into its labelled parts; the references section parsed into entries. Every bad
input gives a PdfError with a message for the user, never a crash. Text in the PDF is only data.
"""
from __future__ import annotations

import re
import statistics
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from medassist.papers.text import HEADING_WORDS, classify_heading

MAX_PAGES = 100
MAX_MB = 50


class PdfError(ValueError):
    """A PDF that cannot be read; the message is meant for the user."""


@dataclass
class Paragraph:
    page: int  # 1-based
    text: str


@dataclass
class Section:
    heading: str
    kind: str  # one of text.KINDS, or "other" / "front" (before the first heading)
    paragraphs: list[Paragraph] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(p.text for p in self.paragraphs)


@dataclass
class Reference:
    raw: str
    authors: str = ""
    title: str = ""
    year: int | None = None
    journal: str = ""
    doi: str = ""


@dataclass
class Paper:
    title: str
    pages: int
    sections: list[Section]
    references: list[Reference]
    abstract: dict[str, str]  # structured abstract parts (background/methods/results/conclusions), if labelled
    skipped_pages: list[int]  # pages with no text layer (images only)

    def section(self, kind: str) -> list[Section]:
        return [s for s in self.sections if s.kind == kind]


def _open(source, max_pages: int, max_mb: float):
    import pymupdf

    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise PdfError(f"File not found: {path.name}")
        size = path.stat().st_size  # refuse huge files before reading them
        if size > max_mb * 1024 * 1024:
            raise PdfError(f"The file is {size / 2**20:.0f} MB; the limit is {max_mb:g} MB.")
        with open(path, "rb") as f:
            head = f.read(1024)
        data = None
    else:
        data = bytes(source)
        if len(data) > max_mb * 1024 * 1024:
            raise PdfError(f"The file is {len(data) / 2**20:.0f} MB; the limit is {max_mb:g} MB.")
        head = data[:1024]
    if not head.strip():
        raise PdfError("The file is empty.")
    if b"%PDF-" not in head:
        raise PdfError("This is not a PDF file. Please upload a paper as .pdf.")
    try:
        doc = pymupdf.open(stream=data, filetype="pdf") if data is not None else pymupdf.open(str(source))
    except Exception:
        raise PdfError("The PDF is damaged and cannot be opened.") from None
    if doc.needs_pass:
        raise PdfError("The PDF is password-protected. Remove the password and upload it again.")
    if doc.page_count == 0:
        raise PdfError("The PDF has no pages.")
    if doc.page_count > max_pages:
        raise PdfError(f"The PDF has {doc.page_count} pages; the limit is {max_pages}.")
    return doc


def _lines(doc) -> tuple[list[dict], list[int]]:
    """Every text line with page, position, size and boldness, in reading order."""
    import pymupdf

    flags = pymupdf.TEXT_DEHYPHENATE | pymupdf.TEXT_MEDIABOX_CLIP
    out, skipped = [], []
    for pno in range(doc.page_count):
        try:
            page = doc[pno]
            d = page.get_text("dict", flags=flags, sort=False)
        except Exception:
            raise PdfError(f"Page {pno + 1} of the PDF is damaged and cannot be read.") from None
        width, height = page.rect.width, page.rect.height
        blocks = [b for b in d["blocks"] if b.get("type") == 0]
        if not blocks:
            skipped.append(pno + 1)
            continue
        mid = width / 2
        # Reading order: full-width blocks cut the page into bands; within a band, left column then right.
        full = sorted(b["bbox"][1] for b in blocks if b["bbox"][0] < mid - 20 and b["bbox"][2] > mid + 20)

        def key(b):
            x0, y0, x1, _ = b["bbox"]
            band = sum(1 for y in full if y <= y0 + 1)
            column = 0 if (x1 <= mid + 20 or (x0 < mid - 20 and x1 > mid + 20)) else 1
            return (band, column, y0, x0)

        for b in sorted(blocks, key=key):
            for ln in b["lines"]:
                spans = [s for s in ln["spans"] if s["text"].strip()]
                if not spans:
                    continue
                text = "".join(s["text"] for s in ln["spans"]).strip()
                out.append({"page": pno + 1, "text": text, "y": ln["bbox"][1], "h": height, "block": id(b),
                            "size": max(s["size"] for s in spans),
                            "bold": all(s["flags"] & 16 or "bold" in s["font"].lower() for s in spans)})
    return out, skipped


def _drop_running_text(lines: list[dict], pages: int) -> list[dict]:
    """Remove running headers/footers (repeated in the top or bottom margin) and bare page numbers."""
    def norm(t):
        return re.sub(r"\d+", "#", t.lower())

    margin = [ln for ln in lines if ln["y"] < 0.08 * ln["h"] or ln["y"] > 0.92 * ln["h"]]
    counts = Counter(norm(ln["text"]) for ln in margin)
    repeated = {t for t, n in counts.items() if pages >= 2 and n >= max(2, pages // 2)}
    return [ln for ln in lines if not (
        (ln in margin and (norm(ln["text"]) in repeated or re.fullmatch(r"(page\s*)?\d+(\s*(of|/)\s*\d+)?", ln["text"].lower())))
    )]


def _join(lines: list[str]) -> str:
    text = ""
    for ln in lines:
        if text.endswith("-") and ln[:1].islower():  # a hyphenated break the extractor did not join
            text = text[:-1] + ln
        elif text and not re.search(r"[\u4e00-\u9fff]$", text):
            text += " " + ln
        else:
            text += ln
    return re.sub(r"\s+", " ", text).strip()


def parse_reference(raw: str) -> Reference:
    """Authors, title, year, journal and DOI from one entry in Vancouver, BMC ("Authors: Title.") or
    IEEE ('A. Author, “Title,” Journal') style; whatever cannot be found stays empty."""
    text = re.sub(r"^\s*(\[\d+\]|\d+\.)\s*", "", raw).strip()
    ref = Reference(raw=text)
    if m := re.search(r"\b(10\.\d{4,9}/[^\s,;]+[^\s,;.])", text):
        ref.doi = m.group(1)
    if m := re.search(r"\b(19|20)\d{2}\b", text):
        ref.year = int(m.group(0))
    if m := re.search(r"[“\"](.+?)[,.]?[”\"]", text):  # IEEE: the title is quoted
        ref.authors = text[: m.start()].strip(" ,")
        ref.title = m.group(1).strip()
        ref.journal = re.split(r",|\bvol\b|\d", text[m.end():].strip(" ,"))[0].strip(" ,.")
        return ref
    head, colon, rest = text.partition(": ")
    if colon and len(head) < 200 and ". " not in head:  # BMC: "Authors: Title. Journal Year, ..."
        ref.authors, parts = head.strip(), [p.strip() for p in re.split(r"\.\s+", rest) if p.strip()]
    else:  # Vancouver: "Authors. Title. Journal. Year;..."
        parts = [p.strip() for p in re.split(r"\.\s+", text) if p.strip()]
        ref.authors, parts = (parts[0], parts[1:]) if parts else ("", [])
    if parts:
        ref.title = parts[0]
    if len(parts) > 1:
        ref.journal = re.split(r"\s(?:19|20)\d{2}\b|[;(]|\d+:", parts[1])[0].strip(" ,.")
    return ref


def split_references(text_lines: list[str]) -> list[Reference]:
    """Split a references section into entries by its sequential numbering ("1." / "[1]"), else by line."""
    text = _join(text_lines)
    cuts, pos, n = [], 0, 1
    while True:  # find "n." or "[n]" for n = 1, 2, 3 ... in order, so numbers inside entries are not cuts
        m = re.compile(rf"(?:^|(?<=\s))(?:\[{n}\]|{n}\.)\s+(?=\S)").search(text, pos)
        if not m:
            break
        cuts.append(m.start())
        pos, n = m.end(), n + 1
    if len(cuts) >= 2:
        entries = [text[a:b] for a, b in zip(cuts, cuts[1:] + [len(text)])]
    else:
        entries = text_lines
    return [parse_reference(e) for e in entries if len(e.strip()) > 15]


# What sits in large type on a first page but is not the paper's title.
STAMP = re.compile(r"www\.|https?://|\bdoi\b|arxiv|\bissn\b|\bvol(?:ume)?\.?\s*\d|©|copyright|"
                   r"^\s*(?:research(?: article)?|original (?:article|research)|review(?: article)?|open access|"
                   r"case report|brief report|letter|editorial|article|clinical science|journal of .*|"
                   r"\w+ et al\.?)\s*$|\bjournal\b.*\d{4}|^\s*[\d\s:;()–-]+$", re.I)


def plausible_title(text: str) -> bool:
    """At least three words, not a file name or a word processor's label, not a stamp."""
    t = (text or "").strip()
    return (len(t.split()) >= 3 and not STAMP.search(t) and not re.search(r"\.(?:docx?|pdf|tex)$|^microsoft word", t, re.I))


def split_abstract(text: str) -> dict[str, str]:
    """A structured abstract's labelled parts ("Background: … Methods: …"), or {} if unlabelled."""
    labels = r"(Background|Introduction|Objectives?|Aims?|Purpose|Methods?|Design|Results?|Findings|Conclusions?|Interpretation|背景|目的|方法|结果|结论)\s*[:：]"
    found = list(re.finditer(labels, text))
    if len(found) < 2:
        return {}
    parts = {}
    for m, nxt in zip(found, found[1:] + [None]):
        kind = classify_heading(m.group(1)) or "other"
        body = text[m.end(): nxt.start() if nxt else len(text)].strip()
        parts[kind] = (parts.get(kind, "") + " " + body).strip()
    return parts


def read_pdf(source, *, max_pages: int = MAX_PAGES, max_mb: float = MAX_MB) -> Paper:
    """source: a path or the file's bytes."""
    doc = _open(source, max_pages, max_mb)
    pages = doc.page_count
    lines, skipped = _lines(doc)
    if sum(len(ln["text"]) for ln in lines) < 50:
        raise PdfError("The PDF has no text layer (it looks scanned). Run it through OCR first, then upload it.")
    lines = _drop_running_text(lines, pages)
    # A damaged font can report size 0 for its text: leave those out of the body size, never divide by 0.
    body = statistics.median([ln["size"] for ln in lines if ln["size"] > 0] or [1.0])
    # The title: the largest lines on page 1 that are not a journal's header, a URL, a DOI or an arXiv stamp.
    first = [ln for ln in lines if ln["page"] == 1 and not STAMP.search(ln["text"]) and len(ln["text"].strip()) > 3]
    top = max((ln["size"] for ln in first), default=0)
    title_lines = [ln for ln in first if ln["size"] >= top - 0.5] if top > body * 1.2 else []
    title = _join([t["text"] for t in title_lines])
    meta = (doc.metadata or {}).get("title", "").strip()
    if plausible_title(meta) and not plausible_title(title):  # the document's own metadata, when it is a title
        title = meta
    sections, current, buf = [], Section("", "front"), []

    def flush_paragraph():
        if buf:
            current.paragraphs.append(Paragraph(buf[0]["page"], _join([b["text"] for b in buf])))
            buf.clear()

    refs_lines: list[str] = []
    for ln in lines:
        if any(ln is t for t in title_lines):
            continue
        short = len(ln["text"]) < 80 and not ln["text"].endswith((".", ",", ";"))
        ratio = ln["size"] / body
        kind = classify_heading(ln["text"]) if short else None
        # IMRaD words need only a small step up in size (or bold, or a line to themselves);
        # other headings must stand out more.
        alone = kind is not None and ln["text"].strip(" :：.").lower() in HEADING_WORDS
        is_heading = short and ((kind and (ratio > 1.03 or ln["bold"] or alone)) or ratio > 1.12
                                or (ln["bold"] and len(ln["text"]) < 50))
        if is_heading:
            flush_paragraph()
            sections.append(current)
            current = Section(ln["text"], kind or "other")
            continue
        if current.kind == "references":
            refs_lines.append(ln["text"])
            continue
        if buf and (ln["page"] != buf[-1]["page"] or ln["block"] != buf[-1]["block"]):
            flush_paragraph()
        buf.append(ln)
    flush_paragraph()
    sections.append(current)
    sections = [s for s in sections if s.paragraphs or s.kind == "references"]
    abstract = {}
    for s in sections:
        if s.kind in ("abstract", "front") and (abstract := split_abstract(s.text)):
            break
    return Paper(title=title, pages=pages, sections=sections,
                 references=split_references(refs_lines), abstract=abstract, skipped_pages=skipped)


def _child(conn, source, limits) -> None:
    try:
        conn.send(("ok", read_pdf(source, **limits)))
    except PdfError as e:
        conn.send(("error", str(e)))
    except Exception as e:  # a parser bug is still only "this PDF cannot be read"
        conn.send(("error", f"The PDF is damaged and cannot be read ({type(e).__name__})."))
    finally:
        conn.close()


def read_pdf_isolated(source, *, timeout: float = 60, max_pages: int = MAX_PAGES, max_mb: float = MAX_MB) -> Paper:
    """read_pdf in a child process, so a PDF that hangs or crashes the parser cannot take the app down.
    Costs ~0.5 s to start the child; the app uses this for uploads, tests and scripts use read_pdf."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")  # not fork: the app has threads (gradio, the model)
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, str(source) if isinstance(source, Path) else source,
                                            {"max_pages": max_pages, "max_mb": max_mb}), daemon=True)
    proc.start()
    child.close()
    try:
        if not parent.poll(timeout):
            raise PdfError(f"Reading this PDF took longer than {timeout:g} s; it may be damaged.")
        status, value = parent.recv()
    except EOFError:  # the child died without answering (a crash inside the PDF library)
        raise PdfError("The PDF is damaged: it crashed the PDF reader.") from None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        parent.close()
    if status == "error":
        raise PdfError(value)
    return value


def describe(paper: Paper) -> str:
    """What the reader found, for a person checking it (this module's and textread's command line)."""
    lines = [f"{paper.title}  ({paper.pages} pages)"]
    for s in paper.sections:
        pages = sorted({p.page for p in s.paragraphs})
        lines.append(f"  [{s.kind:11s}] {s.heading[:60]!r}  pages {pages}  {len(s.text)} chars")
    lines += [f"  abstract/{k}: {v[:80]}…" for k, v in paper.abstract.items()]
    lines.append(f"  {len(paper.references)} references; first: {paper.references[0] if paper.references else None}")
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    try:
        print(describe(read_pdf(sys.argv[1])))
    except PdfError as e:
        sys.exit(f"error: {e}")
