"""Check a manuscript draft against a reporting guideline: each item present / unclear / missing,
quoting the sentence that addresses it, plus logic gaps with the passage concerned.

    python -m medassist.papers.draftcheck draft.docx --guideline CONSORT      # .txt, .md, .docx or .pdf

Each checklist item is matched to the draft's sentences by embedding similarity (all-MiniLM-L6-v2)
plus a bonus when the sentence holds one of the item's keywords and sits in the item's section.
Logic gaps are rule-based, so they are explainable: a conclusion that no results sentence backs,
outcomes reported but never defined in the methods, no sample-size justification.
"""
from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medassist.papers.guidelines import Guideline, all_guidelines
from medassist.papers.pdfread import MAX_MB, MAX_PAGES, PdfError
from medassist.papers.text import KIND_TO_SECTION, classify_heading, sentences

PRESENT, UNCLEAR = 0.55, 0.42  # on similarity + bonuses; set on tests/data/draft_rct.md (see the tests)
KEYWORD_BONUS, SECTION_BONUS = 0.3, 0.1  # checklist items are meta-level text: keywords carry more signal
CLAIM = re.compile(r"\b(effective|reduc\w*|improv\w*|significant\w*|superior|safe|prevent\w*|better|benefit\w*|"
                   r"associated with|increas\w*|decreas\w*)\b", re.IGNORECASE)
STATS = re.compile(r"\b(p\s*[<=>]\s*0?\.\d+|95\s*%\s*CI|confidence interval|odds ratio|hazard ratio|"
                   r"relative risk|\d+(\.\d+)?\s*%)", re.IGNORECASE)
MAX_CHARS = 300_000


@dataclass
class ItemResult:
    id: str
    section: str
    item: str
    status: str  # present | unclear | missing
    quote: str
    score: float


@dataclass
class Gap:
    kind: str  # unsupported_conclusion | undefined_outcome | no_sample_size
    message: str
    passage: str



def read_draft(path: str | Path, *, max_pages: int = MAX_PAGES, max_mb: float = MAX_MB, timeout: float = 60) -> str:
    """Text of a .txt/.md/.docx/.pdf draft; PdfError (a message for the user) when it cannot be read.
    A PDF is read in a child process under the same limits as any upload (the app passes its settings)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".txt", ".md"):
        if path.stat().st_size > max_mb * 1e6:
            raise PdfError(f"{path.name} is larger than {max_mb:g} MB; check a shorter draft.")
        return path.read_text(encoding="utf-8", errors="replace")
    if suffix == ".docx":
        from medassist.papers.textread import docx_lines

        return "\n".join(text for _, text in docx_lines(path))
    if suffix == ".pdf":
        from medassist.papers.pdfread import read_pdf_isolated

        paper = read_pdf_isolated(path, max_pages=max_pages, max_mb=max_mb, timeout=timeout)
        return "\n".join(f"{s.heading}\n{s.text}" for s in paper.sections if s.kind != "references")
    raise PdfError(f"{path.name}: upload the draft as .txt, .md, .docx or .pdf.")


def sentences_by_section(text: str) -> list[tuple[str, str]]:
    """[(section, sentence)]: headings on their own line switch the section."""
    out, section = [], "other"
    for line in text.splitlines():
        line = line.strip().strip("#*").strip()
        if not line:
            continue
        kind = classify_heading(line) if len(line) < 60 else None
        if kind and len(line.split()) <= 6:
            section = KIND_TO_SECTION.get(kind, section)
            continue
        for s in sentences(line):
            if len(s) >= 15:
                out.append((section, s))
    if out and out[0][0] == "other":  # the first lines before any heading are the title
        out[0] = ("title", out[0][1])
    return out


def check_items(sents: list[tuple[str, str]], guideline: Guideline, embedder) -> list[ItemResult]:
    if not sents:
        return [ItemResult(i.id, i.section, i.item, "missing", "", 0.0) for i in guideline.items]
    vec = embedder.encode([s for _, s in sents])
    items = embedder.encode([i.item for i in guideline.items])
    sims = items @ vec.T
    lows = [s.lower() for _, s in sents]
    results = []
    for r, item in enumerate(guideline.items):
        kw = np.array([any(k in low for k in item.keywords) for low in lows], dtype=np.float32)
        same = np.array([sec == item.section for sec, _ in sents], dtype=np.float32)
        score = sims[r] + KEYWORD_BONUS * kw + SECTION_BONUS * same
        j = int(np.argmax(score))
        best = float(score[j])
        status = "present" if best >= PRESENT else "unclear" if best >= UNCLEAR else "missing"
        results.append(ItemResult(item.id, item.section, item.item, status, sents[j][1] if status != "missing" else "",
                                  round(best, 3)))
    return results


def find_gaps(sents: list[tuple[str, str]], guideline: Guideline, embedder) -> list[Gap]:
    gaps = []
    methods = [s for sec, s in sents if sec == "methods"]
    results = [s for sec, s in sents if sec == "results"]
    claims = [s for sec, s in sents if sec in ("discussion",) and CLAIM.search(s)]
    if claims:
        if not results:
            gaps += [Gap("unsupported_conclusion", "A conclusion with no results section to support it.", c)
                     for c in claims[:3]]
        else:
            sim = embedder.encode(claims) @ embedder.encode(results).T
            for c, row in zip(claims, sim):
                if float(row.max()) < 0.45:
                    gaps.append(Gap("unsupported_conclusion", "No results sentence reports what this conclusion claims.", c))
            if not any(STATS.search(r) for r in results):
                gaps.append(Gap("unsupported_conclusion", "Conclusions make claims, but the results give no numbers, "
                                "effect sizes, confidence intervals or p-values.", claims[0]))
    outcome_words = re.compile(r"\b(primary|secondary) (outcome|end ?point)s?\b", re.IGNORECASE)
    reported = [r for r in results if outcome_words.search(r)]
    if reported and not any(outcome_words.search(m) or re.search(r"\boutcomes? (was|were|is|are)\b", m, re.I)
                            for m in methods):
        gaps.append(Gap("undefined_outcome", "Results report an outcome the methods never define.", reported[0]))
    if guideline.name in ("CONSORT", "STARD", "STROBE") and not any(
            re.search(r"sample size|power(ed)? (calculation|to detect)|study size|were needed to detect", s, re.I)
            for _, s in sents):
        gaps.append(Gap("no_sample_size", "No sample-size justification (power calculation) was found.",
                        methods[0] if methods else ""))
    return gaps


def check_draft(text: str, guideline: Guideline, embedder) -> tuple[list[ItemResult], list[Gap]]:
    if not text.strip():
        raise PdfError("The draft is empty.")
    if len(text) > MAX_CHARS:
        raise PdfError(f"The draft is {len(text):,} characters; the limit is {MAX_CHARS:,}.")
    sents = sentences_by_section(text)
    return check_items(sents, guideline, embedder), find_gaps(sents, guideline, embedder)


def to_markdown(items: list[ItemResult], gaps: list[Gap], guideline: Guideline) -> str:
    mark = {"present": "✅ present", "unclear": "❓ unclear", "missing": "❌ missing"}
    lines = [f"## {guideline.name} check", "", "| item | section | checklist item | status | where |",
             "| --- | --- | --- | --- | --- |"]
    for r in items:
        quote = r.quote.replace("|", "/")[:160]
        lines.append(f"| {r.id} | {r.section} | {r.item} | {mark[r.status]} | {quote} |")
    n = {s: sum(r.status == s for r in items) for s in mark}
    lines += ["", f"{n['present']} present · {n['unclear']} unclear · {n['missing']} missing", ""]
    if gaps:
        lines += ["### Logic gaps", ""] + [f"- **{g.message}** {('— “' + g.passage + '”') if g.passage else ''}"
                                          for g in gaps]
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="Check a draft against a reporting guideline.")
    ap.add_argument("draft")
    ap.add_argument("--guideline", default="CONSORT", choices=sorted(all_guidelines()))
    args = ap.parse_args(argv)
    from medassist.model.embed import load_embedder

    g = all_guidelines()[args.guideline]
    try:
        items, gaps = check_draft(read_draft(args.draft), g, load_embedder())
    except PdfError as e:
        sys.exit(f"error: {e}")
    print(to_markdown(items, gaps, g))


if __name__ == "__main__":
    main()
