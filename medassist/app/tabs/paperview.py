"""How a paper's summary and answers look in the page: cited bullets whose page buttons open that page's passages
(kept in hidden <template>s, so a click needs no server round trip), the paper's key facts, the field being written,
removed sentences, and a text progress bar. Plain functions of a PaperIndex and a summary: tests call them directly.
"""
from __future__ import annotations

import html
import re

from medassist.app.i18n import t
from medassist.papers import prompts as P
from medassist.papers.factcheck import CITE, cited_pages
from medassist.papers.facts import facts_line
from medassist.papers.passages import PaperIndex
from medassist.papers.summarize import removed_reason

# Citation buttons show the cited page's passages (kept in hidden <template>s) without a server round trip.
CITE_JS = """
element.addEventListener('click', (e) => {
  const b = e.target.closest('button.cite'); if (!b) return;
  const root = b.closest('.paper-view'); const box = root.querySelector('.cite-source');
  const tpl = root.querySelector(`template[data-page="${b.dataset.page}"]`);
  box.innerHTML = ''; const head = document.createElement('b'); head.textContent = b.textContent; box.appendChild(head);
  if (tpl) box.appendChild(tpl.content.cloneNode(true));
  const hit = b.dataset.passage && box.querySelector(`[data-passage="${b.dataset.passage}"]`);
  if (hit) hit.classList.add('hit');
  box.hidden = false;
});
"""



def _bold(text: str) -> str:
    """Escaped text with its **label** in bold (the facts lines are written as Markdown for the export)."""
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(text))


def _cite_button(page: int, passage: int | None, index: PaperIndex) -> str:
    if page not in index.pages:
        return html.escape(f"[p. {page}]")
    extra = f' data-passage="{passage}"' if passage is not None else ""
    return f'<button class="cite" data-page="{page}"{extra}>p. {page}</button>'


def _page_templates(index: PaperIndex, pages: set[int]) -> str:
    out = []
    for pg in sorted(pages):
        paras = "".join(f'<p data-passage="{p.id}">{html.escape(p.text)}</p>' for p in index.pages.get(pg, []))
        out.append(f'<template data-page="{pg}">{paras}</template>')
    return "".join(out)


def text_bar(fraction: float, width: int = 12) -> str:
    """A progress bar in text (the status line): nothing animates while the model works."""
    n = max(0, min(width, round(fraction * width)))
    return "▰" * n + "▱" * (width - n)


def render_summary(index: PaperIndex, fields: dict, lang: str, partial_field: str = "", partial_text: str = "",
                   dropped: list | None = None, stats: dict | None = None, facts: dict | None = None,
                   notices: list[str] = ()) -> str:
    """The summary as HTML: the paper's key facts, cited bullets, the field being written (greyed), removed
    sentences, page sources."""
    zh, pages = lang == "zh", set()
    parts = [f'<div class="paper-view"><h3>{html.escape(index.paper.title or "")}</h3>']
    parts += [f'<p class="notice">⚠️ {html.escape(P.summary_word(n, lang))}</p>' for n in notices]
    if facts:  # quoted from the paper before any prose is written: each cites the page that states it
        items = []
        for line, f in zip(facts_line(facts, lang), [facts[k] for k in ("design", "result", "conclusion") if k in facts]):
            pages.add(f.page)
            text = CITE.sub("", line).strip()
            # the passage that holds the quoted sentence, so a click highlights it like any other citation
            held = next((p.id for p in index.pages.get(f.page, []) if f.evidence[:80] in p.text), None)
            items.append(f"<li>{_bold(text)} {_cite_button(f.page, held, index)}</li>")
        parts.append(f'<ul class="facts">{"".join(items)}</ul>')
    for f, bullets in fields.items():
        parts.append(f"<h4>{P.SUMMARY_FIELDS[f][1 if zh else 0]}</h4>" + ("<ul>" if bullets else ""))
        for b in bullets:
            pages |= set(b.pages)
            cites = " ".join(_cite_button(pg, b.passage, index) for pg in b.pages)
            parts.append(f"<li>{html.escape(b.text)} {cites}</li>")
        parts.append("</ul>" if bullets else f"<p><i>{t('lit.nothing', lang)}</i></p>")
    if partial_field:
        parts.append(f'<h4>{P.SUMMARY_FIELDS[partial_field][1 if zh else 0]} …</h4>'
                     f'<p class="partial">{html.escape(partial_text)}</p>')
    if dropped:
        items = "".join(f"<li><s>{html.escape(d['sentence'])}</s> ({html.escape(removed_reason(d, lang))})</li>"
                        for d in dropped)
        parts.append(f'<details class="dropped"><summary>{t("lit.dropped", lang, n=len(dropped))}</summary>'
                     f"<ul>{items}</ul></details>")
    if stats and "seconds" in stats:
        parts.append(f'<p class="meta">{t("lit.stats", lang, **stats)}</p>')
    parts.append(f'<div class="cite-source" hidden></div>{_page_templates(index, pages)}</div>')
    return "".join(parts)


def render_answer(index: PaperIndex, text: str) -> str:
    """A streamed answer with its [p. N] citations turned into buttons."""
    pages: set[int] = set()
    out, pos = [], 0
    for m in CITE.finditer(text):
        out.append(html.escape(text[pos:m.start()]))
        ps = cited_pages(m.group(0))
        pages.update(p for p in ps if p in index.pages)
        out.append(" ".join(_cite_button(p, None, index) for p in ps))
        pos = m.end()
    out.append(html.escape(text[pos:]))
    body = "".join(out).replace("\n", "<br>")
    return f'<div class="paper-view"><p>{body}</p><div class="cite-source" hidden></div>{_page_templates(index, pages)}</div>'
