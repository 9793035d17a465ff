"""Research outlines: an IMRaD outline shaped by the matching reporting guideline, written by the model
and completed from the guideline; reference suggestions from the user's own library.

    for text in generate(engine, "Does nurse-led follow-up reduce readmissions?", "rct", "", "en"): ...
    suggest_references(library, outline_markdown)   # [{section, entry, score, reason}]

The outline always has every section: one the model left out or left empty gets the guideline's items
for it, marked as such, so the user sees what the section must cover. The app's Outline tab streams it.
"""
from __future__ import annotations

import re
from pathlib import Path

from medassist.model.defaults import DOCUMENT
from medassist.papers import prompts as P
from medassist.papers.guidelines import STUDY_TYPES, for_study_type
from medassist.papers.library import Library
from medassist.papers.fieldplan import fits
from medassist.papers.text import section_of_heading

SECTIONS = P.OUTLINE_SECTIONS[:-1]  # References come from the library, never from the model


def parse_outline(text: str) -> dict[str, list[str]]:
    """Markdown outline -> {section: [bullets]} for the known sections, in the model's order."""
    out: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        s = line.strip()
        head = re.match(r"^(?:#{1,4}\s*|\*\*)?([^#*:：]{2,40}?)(?:\*\*)?\s*[:：]?\s*(?:\*\*)?$", s) if s else None
        section = section_of_heading(head.group(1)) if head and not s.startswith(("-", "*  ", "• ")) else None
        name = section.capitalize() if section else None
        if name:
            current = name
            out.setdefault(current, [])
        elif current and s:
            bullet = re.sub(r"^(?:[-*•]|\d+[.)])\s*", "", s).strip()
            if bullet:
                out[current].append(bullet)
    return out


def complete_outline(sections: dict[str, list[str]], guideline) -> dict[str, list[str]]:
    """Every IMRaD section present, in order; empty ones get the guideline's items."""
    items = guideline.by_section()
    done = {}
    for name in SECTIONS:
        bullets = sections.get(name) or [f"[{guideline.name} {i.id}] {i.item}" for i in items.get(name.lower(), [])]
        done[name] = bullets or [f"[{guideline.name}] (no items for this section)"]
    return done


def to_markdown(topic: str, sections: dict[str, list[str]]) -> str:
    lines = [f"# {topic.strip()}", ""]
    for name, bullets in sections.items():
        lines += [f"## {name}", ""] + [f"- {b}" for b in bullets] + [""]
    return "\n".join(lines)


def to_docx(markdown: str, path: Path) -> Path:
    """The (possibly edited) Markdown outline as a Word document: headings, bullets, paragraphs."""
    import docx

    doc = docx.Document()
    for line in markdown.splitlines():
        s = line.rstrip()
        if s.startswith("# "):
            doc.add_heading(s[2:].strip(), level=0)
        elif s.startswith("## "):
            doc.add_heading(s[3:].strip(), level=1)
        elif s.startswith("### "):
            doc.add_heading(s[4:].strip(), level=2)
        elif re.match(r"^\s*[-*•]\s+", s):
            doc.add_paragraph(re.sub(r"^\s*[-*•]\s+", "", s), style="List Bullet")
        elif s.strip():
            doc.add_paragraph(s.strip())
    doc.save(str(path))
    return path


def generate(engine, topic: str, study_type: str, journal: str, lang: str, cancel=None, max_new_tokens: int = 700,
             library: Library | None = None):
    """Yields the outline text as it streams; the last value is the completed outline (every section).
    With a library, the titles of the user's uploaded papers closest to the topic go into the prompt."""
    papers = [e.title for e, _ in library.suggest(topic, k=8, min_score=0.3) if e.kind == "paper"][:3] if library else []
    g = for_study_type(study_type)
    items = {s.capitalize(): [i.item for i in its] for s, its in g.by_section().items() if s != "other"}
    # Full checklist items, else their first words, else none: whatever fits the model's context.
    for cut in (None, 6, 0):
        shown = {k: [" ".join(x.split()[:cut]) if cut else x for x in v] for k, v in items.items()} if cut != 0 else {}
        system, messages = P.outline_messages(topic, STUDY_TYPES[study_type][0], g.name, shown, journal, lang,
                                              papers if cut is None else [])
        if fits(engine, system, messages, max_new_tokens):
            break
    text = ""
    for c in engine.stream(messages, system=system, cancel=cancel,
                            **DOCUMENT.kwargs(temperature=0.3, max_new_tokens=max_new_tokens)):
        text += c.text
        yield text
    yield to_markdown(topic, complete_outline(parse_outline(text), g))


def suggest_references(library: Library, outline_md: str, per_section: int = 3) -> list[dict]:
    """For each section of the outline: library entries ranked by similarity, with the bullet that matched."""
    sections = parse_outline(outline_md)
    out, seen = [], set()
    for name, bullets in sections.items():
        if name in ("Title", "Abstract") or not bullets:
            continue
        for entry, score in library.suggest(" ".join(bullets), k=per_section):
            if entry.id in seen:
                continue
            seen.add(entry.id)
            sims = library.embedder.encode(bullets) @ library.embedder.encode([entry.title])[0]
            why = bullets[int(sims.argmax())]
            out.append({"section": name, "entry": entry, "score": round(score, 2), "reason": why})
    return out


# --- handlers -------------------------------------------------------------------------------------

