"""The words papers are made of, kept once: sentence splitting, heading words, and the sections of a paper.

    sentences("It fell 23%. 95% CI 10-35. 结果如下。")      # -> three sentences
    sentences("A; b.", clauses=True)                       # -> ["A;", "b."]: the number check drops a clause, not more
    classify_heading("2. Materials and Methods")           # -> "methods"   (what a PDF heading is about)
    section_of_heading("Conclusions")                      # -> "discussion" (where it goes in a manuscript)

Used by the PDF reader and passages, the summary checks, the draft check, the guidelines and outlines.
"""
from __future__ import annotations

import re

KINDS = {  # heading words -> what the part of a paper is about (a paper's own headings, a structured abstract)
    "background": ["introduction", "background", "objective", "objectives", "aim", "aims", "purpose", "context",
                   "背景", "引言", "前言", "目的", "介绍"],
    "methods": ["method", "methods", "methodology", "materials and methods", "patients and methods", "study design",
                "design", "setting", "participants", "interventions", "measures", "statistical analysis",
                "方法", "资料与方法", "对象与方法", "材料与方法"],
    "results": ["result", "results", "findings", "结果"],
    "discussion": ["discussion", "limitations", "strengths and limitations", "讨论", "局限性"],
    "conclusions": ["conclusion", "conclusions", "interpretation", "implications", "结论", "总结"],
    "abstract": ["abstract", "summary", "摘要"],
    "references": ["references", "bibliography", "literature cited", "参考文献"],
}
HEADING_WORDS = {w for words in KINDS.values() for w in words}
# The sections of a manuscript (reporting guidelines, draft checks, outlines), in order.
SECTIONS = ["title", "abstract", "introduction", "methods", "results", "discussion"]
KIND_TO_SECTION = {"background": "introduction", "methods": "methods", "results": "results",
                   "discussion": "discussion", "conclusions": "discussion", "abstract": "abstract"}
TITLE_WORDS = {"title", "标题", "题目"}

# A sentence ends at . ! ? followed by space and a capital, digit, bracket or CJK character (so "e.g. the",
# "vs. placebo" do not end one; "p. 3" does, as it always has), or right after a Chinese full stop, which takes no space.
_END = r"(?<=[.!?])\s+(?=[A-Z0-9(\[\u4e00-\u9fff])|(?<=[。！？])\s*"
_SENTENCE = re.compile(_END)
_CLAUSE = re.compile(_END + r"|(?<=;)\s+|(?<=；)\s*")


def sentences(text: str, *, clauses: bool = False) -> list[str]:
    """The sentences of text, stripped; clauses=True also splits at semicolons."""
    return [s.strip() for s in (_CLAUSE if clauses else _SENTENCE).split(text) if s and s.strip()]


def classify_heading(text: str) -> str | None:
    """What a heading is about (a key of KINDS), or None: "2. Materials and Methods" -> "methods"."""
    t = re.sub(r"^[\dIVX.\s]+", "", text.strip().lower()).strip(" :：.")
    for kind, words in KINDS.items():
        if t in words or any(t.startswith(w) and len(t) <= len(w) + 12 for w in words if len(w) > 3):
            return kind
    return None


def section_of_heading(text: str) -> str | None:
    """Which manuscript section (one of SECTIONS) a heading opens, or None."""
    if text.strip().lower().strip(" :：.") in TITLE_WORDS:
        return "title"
    return KIND_TO_SECTION.get(classify_heading(text) or "")
