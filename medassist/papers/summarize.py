"""Structured summary of a paper with page citations: Background / Methods / Results / Conclusions / Limitations.

    from medassist.papers.summarize import summarize          # the command line: summarize_cmd.py

For each field: retrieve the passages most relevant to it (fieldplan.py: embeddings + a prior for the
matching IMRaD section and abstract part). Ask the model for cited bullets (no reasoning: a summary needs
the text, not a chain of thought, and the time goal is ~40 s for 10 pages), then check them: every
number must be in the paper (sentences with one that is not are dropped and listed), every citation
must point at a page the model was shown, and in English a bullet no shown passage supports is dropped
and listed, and a citation is moved to the page that supports the sentence best when the cited one
plainly does not.
Papers over `long_pages` pages go map-reduce: several passage batches per field, each summarised,
then merged with near-duplicates removed. summarize() yields progress events, so the UI and the CLI
show each stage and each field as soon as it is done.
"""
from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from typing import Iterator


from medassist.papers.facts import design_by_model, facts_line, paper_facts
from medassist.papers.fieldplan import batches_for, fit_passages, shared_block
from medassist.papers.factcheck import NumberGuard, parse_bullets
from medassist.papers.passages import PaperIndex, Passage
from medassist.papers.quality import notices
from medassist.papers.support import JUDGE_MIN, can_judge, margins
from medassist.model.chat import is_chinese
from medassist.model.defaults import DOCUMENT
from medassist.papers import prompts as P

@dataclass
class SummaryConfig:
    lang: str = "en"  # en | zh: the language of the summary (the paper may be in either)
    fields: tuple = tuple(P.SUMMARY_FIELDS)
    top_k: int = 5  # passages per field (per batch)
    context_tokens: int = 650  # passage budget per model call
    max_new_tokens: int = 170
    long_pages: int = 12  # longer papers: map-reduce over up to map_batches batches per field
    map_batches: int = 3
    # True: a short paper's fields all read one block of passages (fieldplan.shared_block, this many tokens),
    # read once (the engine keeps its KV state; a server's prompt cache does the same). Measured and not taken
    # (benchmarks/shared_block.py): 40% less prompt reading (15 vs 24 s on the 10-page paper), but a summary is
    # bound by what the model writes (~770 tokens, ~35 s), which the longer context made no faster, and whole
    # summaries took -2 to +5 s on the three shared papers. Off: each field reads its own passages.
    shared: bool = False
    shared_tokens: int = 1600
    max_bullets: int = 5
    support_min: float = 0.35  # below this the cited page does not back the sentence: re-cite if another does
    drop_below: float = 0.45  # English bullets no shown passage supports this well are removed (set 0 to keep)
    duplicate: float = 0.9  # bullets more similar than this are one bullet
    judge: bool = True  # English bullets read against their passage by a local model (support.py); False: cosine only
    # A paper that neither names nor describes its design: ask the model ("never" | "server" | "always"). Only a
    # server's model by default: the bundled one picked the right design for 50% of held-out papers (the rules:
    # 89%) and none of those the rules left blank, and a blank is better than a wrong design.
    design_by_model: str = "server"


@dataclass
class Bullet:
    text: str
    pages: list[int]
    support: float | None = None  # cosine of the sentence to the best passage on its cited pages (English only)
    passage: int | None = None  # that passage's id
    note: str = ""  # "page corrected" | "page added" when the citation was not the model's own
    judge: float | None = None  # the claim-level judge's margin for its passage (support.py; local models, English)


@dataclass
class Summary:
    title: str
    source: str
    pages: int
    lang: str
    model: str
    fields: dict[str, list[Bullet]] = field(default_factory=dict)
    facts: dict[str, dict] = field(default_factory=dict)  # design, size, result, conclusion: value, evidence, page
    dropped: list[dict] = field(default_factory=list)  # removed sentences: {field, sentence, reason, missing}
    stats: dict = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)  # "broken_text", "not_medical" (quality.py): said before it
    quality: dict = field(default_factory=dict)  # the measures behind them

    def to_json(self, index: PaperIndex | None = None) -> dict:
        d = asdict(self)
        if index:  # the passages the citations point at, so the JSON is checkable on its own
            used = {b.passage for bs in self.fields.values() for b in bs if b.passage is not None}
            d["passages"] = {p.id: {"page": p.page, "text": p.text} for p in index.passages if p.id in used}
        return d


def _field_name(f: str, lang: str) -> str:
    en, zh, _ = P.SUMMARY_FIELDS[f]
    return zh if lang == "zh" else en


def _looping(text: str, max_bullets: int) -> bool:
    """True once a finished line repeats an earlier one, or there are more lines than bullets wanted."""
    lines = [re.sub(r"\W+", " ", ln).strip().lower() for ln in text.split("\n")[:-1] if ln.strip()]
    return len(lines) != len(set(lines)) or len(lines) > max_bullets + 1


STOP = set("the and with that this from were was are for have has had been their which than into also not but "
           "its they these those there such other more most less between among after before during when where while "
           "study patients results".split())


def content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z][a-z0-9-]{3,}|\d+(?:\.\d+)?", text.lower()) if w not in STOP}


def stating_passage(index: PaperIndex, text: str) -> Passage | None:
    """A passage holding at least 75% of the sentence's content words and every number it gives, or None."""
    words = content_words(text)
    numbers = {w for w in words if w[0].isdigit()}
    if len(words) < 4:
        return None
    for p in index.passages:
        have = content_words(p.text)
        if numbers <= have and len(words & have) >= 0.75 * len(words):
            return p
    return None


def stated_by(index: PaperIndex, text: str, row, cfg: SummaryConfig) -> Passage | None:
    """The passage that states this sentence: an abstract passage close in meaning (>= drop_below), or one that
    holds its words and numbers (stating_passage); None when no passage does."""
    abstract = [p for p in index.passages if p.kind.startswith("abstract")]
    if abstract:
        best = max(abstract, key=lambda p: row[p.id])
        if row[best.id] >= cfg.drop_below:
            return best
    return stating_passage(index, text)


def check_bullets(index: PaperIndex, raw: list[tuple[str, list[int]]], shown: list[Passage], guard: NumberGuard,
                  cfg: SummaryConfig, judge=None) -> tuple[list[Bullet], list[dict]]:
    """Number guard, citation range and support, duplicates; returns (bullets, dropped sentences).
    shown: the passages the model was given, most relevant first. judge: an engine giving letter scores, which
    then reads each kept English bullet against its passage (support.py) and removes what no passage states."""
    bullets, dropped, closest = [], [], {}
    for text, pages in raw:
        kept, gone = guard.filter(text)
        dropped += [{**d, "reason": "numbers"} for d in gone]
        if kept:
            bullets.append(Bullet(kept, pages))
    if not bullets:
        return [], dropped
    shown_pages = {p.page for p in shown}
    sims = index.similarity([b.text for b in bullets]) if cfg.lang == "en" else None
    for i, b in enumerate(bullets):
        cited = [pg for pg in b.pages if pg in shown_pages]
        if sims is None:  # cross-lingual similarity is unreliable with MiniLM: keep the model's citation if valid
            if not cited:  # else the page of the passage most relevant to this field
                b.pages, b.note = [shown[0].page], "page added"
            else:
                b.pages = cited
            continue
        row = sims[i]
        best_shown = max(shown, key=lambda p: row[p.id])
        # Nothing true is removed: a sentence the abstract supports, or whose words a passage of the paper
        # states almost all of, stays even when no shown passage is close enough in meaning for MiniLM.
        stated = stated_by(index, b.text, row, cfg) if row[best_shown.id] < cfg.drop_below else None
        if stated is not None:
            best_shown = stated
            shown_pages.add(stated.page)
        elif row[best_shown.id] < cfg.drop_below:
            # nothing the model was shown, nor the abstract, nor any passage's own words say this: likely invented
            dropped.append({"sentence": b.text, "missing": [], "reason": "unsupported",
                            "support": round(float(row[best_shown.id]), 3)})
            b.pages = []
            continue
        on_cited = [p for p in index.passages if p.page in cited]
        best_cited = max(on_cited, key=lambda p: row[p.id]) if on_cited else None
        if best_cited is None:
            b.pages, b.note, best_cited = [best_shown.page], "page added", best_shown
        elif row[best_cited.id] < cfg.support_min and row[best_shown.id] >= row[best_cited.id] + 0.1:
            b.pages, b.note, best_cited = [best_shown.page], "page corrected", best_shown
        else:
            b.pages = cited
        b.support, b.passage = round(float(row[best_cited.id]), 3), best_cited.id
        closest[i] = best_shown
    if can_judge(judge) and sims is not None:
        dropped += _judged(index, bullets, closest, judge)
    bullets = [b for b in bullets if b.pages]
    if sims is not None and len(bullets) > 1:  # merge near-duplicates (map-reduce batches repeat each other)
        vec = index.embedder.encode([b.text for b in bullets])
        keep = []
        for i in range(len(bullets)):
            if all(float(vec[i] @ vec[j]) < cfg.duplicate for j in keep):
                keep.append(i)
        bullets = [bullets[i] for i in keep]
    return bullets[: cfg.max_bullets], dropped


def _judged(index: PaperIndex, bullets: list[Bullet], closest: dict[int, Passage], judge) -> list[dict]:
    """The claim-level check: each bullet read against its cited passage and the closest shown one, in one
    call (a passage judged for several bullets is read once); a bullet neither states loses its pages (removed,
    reason "unstated"); one only the closest states is re-cited to it. (Reading the closest one only where the
    cited one failed was no faster: 54 vs 45 s over the three shared papers, benchmarks/summaries.py.)"""
    pairs = [(i, pid) for i, b in enumerate(bullets) if b.pages and b.passage is not None
             for pid in dict.fromkeys([b.passage, closest[i].id])]
    best: dict[int, tuple[float, int]] = {}
    for (i, pid), m in zip(pairs, margins(judge, [(index.passages[pid].text, bullets[i].text) for i, pid in pairs])):
        if i not in best or m > best[i][0]:
            best[i] = (m, pid)
    dropped = []
    for i, (m, pid) in best.items():
        b = bullets[i]
        b.judge = round(m, 3)
        if m < JUDGE_MIN:  # on topic, perhaps, but neither the passage it cites nor the closest one says it
            dropped.append({"sentence": b.text, "missing": [], "reason": "unstated", "judge": b.judge})
            b.pages = []
        elif pid != b.passage:
            b.pages, b.passage, b.note = [index.passages[pid].page], pid, "page corrected"
    return dropped


def summarize(index: PaperIndex, engine, cfg: SummaryConfig, *, source: str = "", model: str = "",
              cancel=None) -> Iterator[dict]:
    """Events: {"type": "notices", "notices"} (only for broken or non-biomedical text) · {"type": "facts", "facts"} · {"type": "stage", "stage", "fraction"} · {"type": "token", "field", "text"} ·
    {"type": "field", "field", "bullets"} · {"type": "done", "summary"}. `engine` has Engine.stream's signature."""
    t0 = time.perf_counter()
    guard = NumberGuard(index.text)
    summary = Summary(index.paper.title, source, index.paper.pages, cfg.lang, model)
    summary.notices, summary.quality = notices(index.text, getattr(index, "vectors", None),
                                               getattr(index, "embedder", None))
    if summary.notices:  # said before anything is written: the reader weighs the summary knowing it
        yield {"type": "notices", "notices": summary.notices}
    facts = paper_facts(index)  # deterministic, from the paper's own words: shown first, before any prose
    summary.facts = {k: f.to_dict() for k, f in facts.items()}
    yield {"type": "facts", "facts": facts}
    ask = cfg.design_by_model == "always" or (cfg.design_by_model == "server" and engine.info.backend == "remote")
    if "design" not in facts and ask and (d := design_by_model(index, engine)):
        facts["design"] = d  # the paper neither names nor describes its design: the model's reading, marked so
        summary.facts["design"] = d.to_dict()
        yield {"type": "facts", "facts": facts}
    plan = {f: batches_for(index, f, cfg) for f in cfg.fields}
    if cfg.shared and plan and all(len(b) == 1 for b in plan.values()):
        block = shared_block(plan, cfg.shared_tokens)  # most relevant first, in turns across the fields
        # Every field shows the same passages (one prompt head); its own lead, so its checks rank them first.
        plan = {f: [[p for p in b[0] if p in block] + [p for p in block if p not in b[0]]] for f, b in plan.items()}
    total = sum(len(b) for b in plan.values()) or 1
    done, tokens = 0, 0
    for f, batches in plan.items():
        raw, ranked = [], []
        for batch in batches:
            yield {"type": "stage", "stage": f, "fraction": done / total}
            system, messages, fitted = fit_passages(engine, lambda ps: P.summary_messages(f, ps, cfg.lang), batch,
                                                    cfg.max_new_tokens)
            ranked += [p for p in batch if p in fitted]  # best first
            text, last = "", None
            stream = engine.stream(messages, system=system, cancel=cancel,
                                   **DOCUMENT.kwargs(max_new_tokens=cfg.max_new_tokens))
            for chunk in stream:
                last = chunk
                text += chunk.text
                yield {"type": "token", "field": f, "text": chunk.text}
                if "\n" in chunk.text and _looping(text, cfg.max_bullets):
                    stream.close()  # greedy decoding repeats itself: stop paying for it
                    break
            tokens += last.generated_tokens if last else 0
            if last is not None and last.finish_reason in ("length", "cancelled"):
                text = text.rsplit("\n", 1)[0] if "\n" in text.strip() else text  # the cut-off last line
            raw += parse_bullets(text)
            done += 1
        if cfg.lang == "zh" and (wrong := [b for b in raw if not is_chinese(b[0])]):
            # Every field in the language asked for: a check, not a hope. Bullets in another script are
            # translated once; what still is not Chinese after that is dropped, and said so.
            raw = [b for b in raw if is_chinese(b[0])] + _translated(engine, wrong, cfg, cancel)
            summary.stats["translated"] = summary.stats.get("translated", 0) + len(wrong)
            if cancel is not None and cancel.is_set():
                break
        t_check = time.perf_counter()
        bullets, dropped = check_bullets(index, raw, ranked, guard, cfg, judge=engine if cfg.judge else None)
        summary.stats["check_seconds"] = round(summary.stats.get("check_seconds", 0) + time.perf_counter() - t_check, 1)
        summary.fields[f] = bullets
        summary.dropped += [{"field": f, **d} for d in dropped]
        yield {"type": "field", "field": f, "bullets": bullets}
        if cancel is not None and cancel.is_set():
            summary.stats["cancelled"] = True
            break
    seconds = time.perf_counter() - t0
    summary.stats.update(seconds=round(seconds, 1), seconds_per_page=round(seconds / max(index.paper.pages, 1), 2),
                         model_calls=done, generated_tokens=tokens, passages=len(index.passages))
    yield {"type": "stage", "stage": "done", "fraction": 1.0}
    yield {"type": "done", "summary": summary}


def _translated(engine, bullets, cfg: SummaryConfig, cancel) -> list[tuple[str, list[int]]]:
    system, messages = P.translate_messages(bullets)
    text = "".join(c.text for c in engine.stream(messages, system=system, cancel=cancel,
                                                  **DOCUMENT.kwargs(max_new_tokens=cfg.max_new_tokens * 2)))
    out = parse_bullets(text)
    if len(out) == len(bullets):  # a translation that lost its citation keeps the original's pages
        out = [(t, pages or orig[1]) for (t, pages), orig in zip(out, bullets)]
    return [b for b in out if is_chinese(b[0])]


def answer_question(index: PaperIndex, engine, question: str, lang: str = "en", *, cancel=None,
                    max_new_tokens: int = 300) -> Iterator[str]:
    """Ask this paper: an answer from its five most relevant passages, each claim citing its page; yields text
    as it streams. The caller checks the numbers (NumberGuard) once the answer is complete."""
    hits = [p for p, _ in index.search(question, k=5, budget_tokens=700)]
    system, messages, _ = fit_passages(engine, lambda ps: P.paper_question_messages(question, ps, lang), hits,
                                       max_new_tokens)
    for c in engine.stream(messages, system=system, cancel=cancel, **DOCUMENT.kwargs(max_new_tokens=max_new_tokens)):
        yield c.text


def cite(pages: list[int]) -> str:
    return "[" + ", ".join(f"p. {p}" for p in pages) + "]"


def removed_reason(d: dict, lang: str) -> str:
    """Why the checks removed a sentence, in the summary's language (its page and its Markdown)."""
    if d.get("reason") in ("unsupported", "unstated"):
        return P.summary_word(d["reason"], lang)
    return P.summary_word("numbers", lang) + ", ".join(d["missing"])


def to_markdown(s: Summary) -> str:
    w = lambda key: P.summary_word(key, s.lang)  # noqa: E731
    lines = [f"# {s.title or s.source}", "", f"_{s.source} · {s.pages} {w('pages')} · {s.model}_", "",
             "> " + w("warning"), ""]
    lines += [f"> ⚠️ {w(n)}" for n in s.notices] + ([""] if s.notices else [])
    if s.facts:
        from medassist.papers.facts import Fact

        lines += ["- " + ln for ln in facts_line({k: Fact(**v) for k, v in s.facts.items()}, s.lang)] + [""]
    for f, bullets in s.fields.items():
        lines += [f"## {_field_name(f, s.lang)}", ""]
        lines += [f"- {b.text} {cite(b.pages)}" for b in bullets] or ["- " + w("nothing")]
        lines.append("")
    if s.dropped:
        lines += ["## " + w("removed"), ""]
        lines += [f"- ~~{d['sentence']}~~ ({removed_reason(d, s.lang)})" for d in s.dropped] + [""]
    return "\n".join(lines)
