"""Checks that keep a generated summary faithful to its paper: page citations and numbers.

    python -m medassist.papers.factcheck paper.pdf "The trial enrolled 120 patients [p. 2]."

- parse_bullets: the model's text -> (sentence, cited pages) per bullet, whatever bullet style it used.
- NumberGuard: every number in a sentence must occur in the paper's text (as a whole number, so
  "5" is not found inside "15"); thousands separators, the Lancet's mid-dot decimal and spelled-out
  small numbers are normalised on both sides. A sentence with a number not found is dropped.

The third check, whether a shown passage supports a sentence at all (embedding cosine), needs the
embedder and lives with the summary pipeline (summarize.py).
"""
from __future__ import annotations

import re
import sys

from medassist.papers.text import sentences

CITE = re.compile(r"[\[(（【]\s*(?:pp?\.?|pages?|第)\s*(\d{1,4}(?:\s*(?:[-–,，、]|and)\s*(?:pp?\.?\s*)?\d{1,4})*)\s*页?\s*[\])）】]",
                  re.IGNORECASE)
BULLET = re.compile(r"^\s*(?:[-*•·‣–]|\d{1,2}[.)、]|[（(]\d{1,2}[)）])\s+")
HEADING = re.compile(r"^\s*(?:#+\s*|\*\*)?[\w\u4e00-\u9fff /]{1,30}(?:\*\*)?\s*[:：]?\s*(?:\*\*)?\s*$")
NUMBER = re.compile(r"(?<![\w.])[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:[.·]\d+)?(?![\d])")
WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())} | {"thirty": "30", "forty": "40", "fifty": "50", "sixty": "60",
                                                      "seventy": "70", "eighty": "80", "ninety": "90", "hundred": "100"}


def cited_pages(text: str) -> list[int]:
    pages = []
    for m in CITE.finditer(text):
        nums = [int(n) for n in re.findall(r"\d+", m.group(1))]
        if re.search(r"[-–]", m.group(1)) and len(nums) == 2 and 0 <= nums[1] - nums[0] <= 5:
            nums = list(range(nums[0], nums[1] + 1))  # a range "pp. 3-5"
        pages += [n for n in nums if n not in pages]
    return pages


def strip_citations(text: str) -> str:
    text = re.sub(r"\s{2,}", " ", CITE.sub("", text))
    return re.sub(r"\s+([.,;。，；])", r"\1", text).strip()


def parse_bullets(text: str) -> list[tuple[str, list[int]]]:
    """One entry per bullet (or per non-empty line when the model wrote none), headings and chatter skipped."""
    out = []
    for line in text.splitlines():
        line = re.sub(r"</?think>", "", line).strip()  # a stray reasoning tag is not content
        if not line or (HEADING.match(line) and not CITE.search(line)):
            continue  # "Background:" / "**Methods**" headings the model added itself
        body = BULLET.sub("", line).replace("**", "").replace("__", "").strip()
        pages = cited_pages(body)
        body = shorten(strip_citations(body))
        if len(body) >= 4:  # not a stray symbol or page label
            out.append((body, pages))
    return out


def shorten(text: str, max_sentences: int = 2, min_chars: int = 300) -> str:
    """A bullet is a point, not a copied paragraph: keep its first sentences once it is long."""
    if re.search(r"[\u4e00-\u9fff]", text):
        min_chars = min_chars * 2 // 5  # a Chinese character carries about 2.5 Latin characters' worth
    if len(text) <= min_chars:
        return text
    return " ".join(sentences(text)[:max_sentences]).strip()


def normalise_number(s: str) -> str:
    s = s.replace("−", "-").replace("·", ".")
    if re.fullmatch(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?", s):
        s = s.replace(",", "")
    if "." in s:
        s = s.rstrip("0").rstrip(".") or "0"  # 12.50 and 12.5 are the same number
    return s


def numbers_in(text: str) -> list[str]:
    return [normalise_number(m.group(0)) for m in NUMBER.finditer(strip_citations(text))]


class NumberGuard:
    def __init__(self, paper_text: str):
        found = set(numbers_in(paper_text))
        found |= {n.lstrip("-") for n in found}
        low = paper_text.lower()
        found |= {d for w, d in WORDS.items() if re.search(rf"\b{w}\b", low)}
        self.known = found

    def missing(self, sentence: str) -> list[str]:
        """Numbers in the sentence that the paper does not contain."""
        return [n for n in numbers_in(sentence) if n.lstrip("-") not in self.known and n not in self.known]

    def filter(self, text: str) -> tuple[str, list[dict]]:
        """(text without the sentences whose numbers are not in the paper, [{sentence, missing}] dropped)."""
        kept, dropped = [], []
        for s in sentences(text, clauses=True):  # a clause with a wrong number goes, not its whole sentence
            miss = self.missing(s)
            if miss:
                dropped.append({"sentence": s, "missing": miss})
            else:
                kept.append(s)
        return " ".join(kept).strip(), dropped


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    from medassist.papers.pdfread import read_pdf
    from medassist.papers.passages import build_passages

    paper = read_pdf(sys.argv[1])
    guard = NumberGuard("\n".join(p.text for p in build_passages(paper)))
    print("cited pages:", cited_pages(sys.argv[2]), "| numbers not in the paper:", guard.missing(sys.argv[2]) or "none")
