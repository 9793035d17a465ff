"""Read a paper given as plain text, Markdown or Word (.docx) into the same Paper the PDF reader makes.

    python -m medassist.papers.textread paper.txt          # prints the sections found, as pdfread does
    read_paper("paper.docx")                                # any accepted file: .pdf, .txt, .md, .docx

Many exports give a paper as text (PubMed Central's plain text, a preprint server's TXT, a Word manuscript).
Headings are lines that name a part of a paper ("Methods", "2. Results", "## Discussion") or a Word heading
style; the title is the first line (Markdown "# ", Word's Title style). A text file has no pages, so it is cut
into parts of PART_CHARS characters (about a printed page) and "p. N" cites the Nth part — the page says so.
"""
from __future__ import annotations

import re
import sys
import zipfile
from pathlib import Path

from medassist.papers.pdfread import MAX_MB, MAX_PAGES, Paper, Paragraph, PdfError, Section, describe, \
    split_abstract, split_references
from medassist.papers.text import HEADING_WORDS, classify_heading

TEXT_TYPES = (".txt", ".md", ".markdown", ".docx")
PAPER_TYPES = (".pdf",) + TEXT_TYPES
PART_CHARS = 3000  # a printed journal page holds ~3,000-4,000 characters
DOCX_MAX_UNPACKED_MB = 200  # a 300-page thesis with figures unpacks to ~50 MB


def docx_lines(path: Path) -> list[tuple[str, str]]:
    """[(style name, text)] of a Word file's paragraphs. A .docx is a zip: what it unpacks to is checked before
    anything is unpacked (a zip bomb of a few KB can expand to gigabytes in memory)."""
    import docx

    try:
        with zipfile.ZipFile(path) as z:
            unpacked = sum(i.file_size for i in z.infolist())
    except (zipfile.BadZipFile, OSError):
        raise PdfError("The Word file is damaged and cannot be read.") from None
    if unpacked > DOCX_MAX_UNPACKED_MB * 1e6:
        raise PdfError(f"{path.name} unpacks to {unpacked / 1e6:.0f} MB, more than a paper or draft can be "
                       f"({DOCX_MAX_UNPACKED_MB} MB); it was not opened.")
    try:
        return [((p.style.name if p.style is not None else "") or "", p.text) for p in docx.Document(str(path)).paragraphs]
    except Exception:
        raise PdfError("The Word file is damaged and cannot be read.") from None


def _blocks(path: Path, max_mb: float) -> list[tuple[str, str]]:
    """[(role, text)] with role "title", "heading" or "text": one entry per paragraph."""
    if path.stat().st_size > max_mb * 1e6:
        raise PdfError(f"{path.name} is larger than {max_mb:g} MB.")
    if path.suffix.lower() == ".docx":
        out = []
        for style, text in docx_lines(path):
            role = "title" if style == "Title" else "heading" if style.startswith("Heading") else "text"
            out.append((role, text.strip()))
        return [b for b in out if b[1]]
    raw = path.read_bytes()
    if b"\x00" in raw[:4096]:
        raise PdfError(f"{path.name} is not a text file.")
    text = raw.decode("utf-8", errors="replace").replace("\r\n", "\n")
    out: list[tuple[str, str]] = []
    buf: list[str] = []

    def flush():
        if buf:
            out.append(("text", re.sub(r"(\w)- (\w)", r"\1\2", " ".join(buf))))  # a word hyphenated at a line end
            buf.clear()

    # Line by line: a heading may sit on its own line inside a block (text copied out of a PDF has no blank lines).
    for line in text.split("\n"):
        line = line.strip()
        m = re.match(r"^(#{1,6})\s+(.+)$", line)
        if not line:
            flush()
        elif m:
            flush()
            out.append(("title" if m.group(1) == "#" and not out else "heading", m.group(2).strip()))
        elif _is_heading(line):
            flush()
            out.append(("heading", line))
        else:
            buf.append(line)
    flush()
    return out


def _is_heading(text: str) -> bool:
    short = len(text) < 80 and not text.endswith((".", ",", ";"))
    return short and classify_heading(text) is not None and (
        text.strip(" :：.").lower() in HEADING_WORDS or len(text.split()) <= 6)


def read_text_paper(path: str | Path, *, max_mb: float = MAX_MB, max_pages: int = MAX_PAGES) -> Paper:
    path = Path(path)
    if path.suffix.lower() not in TEXT_TYPES:
        raise PdfError(f"{path.name}: upload a paper as .pdf, .txt, .md or .docx.")
    blocks = _blocks(path, max_mb)
    if sum(len(t) for _, t in blocks) < 50:
        raise PdfError(f"{path.name} holds almost no text.")
    title = next((t for r, t in blocks if r == "title"), "")
    if not title and blocks and blocks[0][0] == "text" and len(blocks[0][1]) < 250 and not _is_heading(blocks[0][1]):
        title, blocks = blocks[0][1], blocks[1:]  # a plain text paper opens with its title
    sections, current, used, refs = [], Section("", "front"), 0, []
    for role, text in blocks:
        if role == "title":
            continue
        if role == "heading" or _is_heading(text):
            sections.append(current)
            current = Section(text, classify_heading(text) or "other")
            continue
        if current.kind == "references":
            refs += [ln for ln in re.split(r"\n|(?<=\.)\s+(?=\[?\d{1,3}[.\]]\s)", text) if ln.strip()]
            continue
        page = 1 + used // PART_CHARS
        if page > max_pages:
            break
        current.paragraphs.append(Paragraph(page, text))
        used += len(text)
    sections.append(current)
    sections = [s for s in sections if s.paragraphs or s.kind == "references"]
    abstract = next((a for s in sections if s.kind in ("abstract", "front") and (a := split_abstract(s.text))), {})
    pages = max((p.page for s in sections for p in s.paragraphs), default=1)
    return Paper(title=title, pages=pages, sections=sections, references=split_references(refs), abstract=abstract,
                 skipped_pages=[])


def read_paper(path: str | Path, *, max_mb: float = MAX_MB, max_pages: int = MAX_PAGES, timeout: float = 60) -> Paper:
    """Any accepted paper file; a PDF is read in a child process (pdfread.read_pdf_isolated)."""
    path = Path(path)
    if path.suffix.lower() == ".pdf":
        from medassist.papers.pdfread import read_pdf_isolated

        return read_pdf_isolated(path, max_pages=max_pages, max_mb=max_mb, timeout=timeout)
    return read_text_paper(path, max_mb=max_mb, max_pages=max_pages)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    try:
        print(describe(read_paper(sys.argv[1])))  # a text file's "pages" are its 3,000-character parts
    except PdfError as e:
        sys.exit(f"error: {e}")
