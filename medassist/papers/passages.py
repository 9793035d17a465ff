"""A paper cut into page-tagged passages with embeddings, for retrieval (summaries, "ask this paper").

    index = PaperIndex.build(read_pdf("paper.pdf"), load_embedder())
    index.search("sample size and participants", k=6, prior={"methods": 0.15})

Passages never cross a page, so every passage has exactly one page to cite. Sections the reader
labelled "other" take the IMRaD kind of the section before them (a results section is often
split into sub-headings); back matter (acknowledgements, funding, conflicts) is left out.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from medassist.papers.pdfread import Paper
from medassist.papers.text import sentences

TARGET_CHARS = 700  # ~170 tokens: small enough to pick precisely, large enough to carry a whole finding
MAX_CHARS = 1000
BACK_MATTER = re.compile(r"acknowledg|funding|competing|conflicts? of interest|declaration|author'?s'? contribution|"
                         r"abbreviation|open access|availability of|ethics approval|consent for publication|"
                         r"publish with|submit your|致谢|基金|利益冲突", re.IGNORECASE)
BODY = ("background", "methods", "results", "discussion", "conclusions")


@dataclass
class Passage:
    id: int
    page: int
    kind: str  # an IMRaD kind, "abstract:<kind>" for a labelled abstract part, or "other"
    heading: str
    text: str


def approx_tokens(text: str) -> int:
    """~4 characters per token for Latin text, ~1.4 per token for CJK (Qwen's tokenizer)."""
    cjk = sum(1 for ch in text if ord(ch) > 0x2E80)
    return (len(text) - cjk) // 4 + int(cjk / 1.4) + 1


def chunk_sentences(text: str, target: int = TARGET_CHARS, max_chars: int = MAX_CHARS) -> list[str]:
    """Text cut at sentence ends into pieces of about `target` characters; text up to max_chars stays whole,
    and a "sentence" longer than max_chars (a table, a list without stops) is cut."""
    if len(text) <= max_chars:
        return [text]
    out, cur = [], ""
    for s in sentences(text):
        for piece in (s[i:i + max_chars] for i in range(0, len(s), max_chars)):
            if cur and len(cur) + len(piece) + 1 > target:
                out.append(cur)
                cur = piece
            else:
                cur = f"{cur} {piece}".strip()
    if cur:
        out.append(cur)
    return out


def build_passages(paper: Paper) -> list[Passage]:
    passages: list[Passage] = []

    def add(page, kind, heading, text):
        text = re.sub(r"\s+", " ", text).strip()
        if len(text) >= 40:  # shorter bits are captions, labels and stray lines
            passages.append(Passage(len(passages), page, kind, heading, text))

    abstract_page = next((s.paragraphs[0].page for s in paper.sections if s.kind == "abstract" and s.paragraphs), 1)
    for kind, text in paper.abstract.items():
        for piece in chunk_sentences(text):
            add(abstract_page, f"abstract:{kind}", "Abstract", piece)
    previous = "other"
    for s in paper.sections:
        kind = s.kind
        if kind == "references" or BACK_MATTER.search(s.heading or ""):
            continue
        if kind in ("abstract", "front") and paper.abstract:
            continue  # already added, part by part
        if kind == "other":
            kind = previous
        elif kind in BODY:
            previous = kind
        buf, page = "", None
        for p in s.paragraphs:
            # Pack short paragraphs of one page together; never cross a page.
            if buf and (p.page != page or len(buf) + len(p.text) > TARGET_CHARS):
                for piece in chunk_sentences(buf):
                    add(page, kind, s.heading, piece)
                buf = ""
            buf, page = f"{buf} {p.text}".strip(), p.page
        for piece in chunk_sentences(buf) if buf else []:
            add(page, kind, s.heading, piece)
    return passages


class PaperIndex:
    def __init__(self, paper: Paper, passages: list[Passage], vectors: np.ndarray, embedder):
        self.paper, self.passages, self.vectors, self.embedder = paper, passages, vectors, embedder
        self.pages: dict[int, list[Passage]] = {}
        for p in passages:
            self.pages.setdefault(p.page, []).append(p)

    @classmethod
    def build(cls, paper: Paper, embedder) -> "PaperIndex":
        passages = build_passages(paper)
        if not passages:
            from medassist.papers.pdfread import PdfError

            raise PdfError("No readable body text was found in this PDF.")
        vectors = embedder.encode([f"{p.heading}: {p.text}" if p.heading else p.text for p in passages])
        return cls(paper, passages, vectors, embedder)

    @property
    def text(self) -> str:
        """All the text the paper's numbers are checked against (body, abstract, title; not references)."""
        return "\n".join([self.paper.title] + [p.text for p in self.passages])

    def search(self, query: str, k: int = 6, prior: dict[str, float] | None = None,
               budget_tokens: int | None = None) -> list[tuple[Passage, float]]:
        """The k passages most similar to the query (plus a per-kind prior), best first, within a token budget."""
        q = self.embedder.encode([query])[0]
        scores = self.vectors @ q
        if prior:
            scores = scores + np.array([prior.get(p.kind, prior.get(p.kind.split(":")[0], 0.0)) for p in self.passages])
        out, used = [], 0
        for i in np.argsort(-scores):
            p = self.passages[int(i)]
            cost = approx_tokens(p.text)
            if budget_tokens is not None and used + cost > budget_tokens and out:
                continue
            out.append((p, float(scores[int(i)])))
            used += cost
            if len(out) >= k:
                break
        return out

    def similarity(self, texts: list[str]) -> np.ndarray:
        """(len(texts), n_passages) cosine similarities."""
        return self.embedder.encode(texts) @ self.vectors.T
