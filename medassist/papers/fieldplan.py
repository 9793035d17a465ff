"""Which passages each summary field reads, and how they are fitted into a prompt.

    from medassist.papers.fieldplan import batches_for, shared_block, fit_passages

batches_for: a field's passages (embedding search with a prior for the matching IMRaD section, the paper's own
abstract part first) in batches under a token budget; one batch for a short paper, several for a long one
(map-reduce). shared_block: for a short paper, one block of passages all fields read, so the engine reads it
once and each field after the first reads only its own request (the engine keeps its KV state and rewinds
to the prefix two prompts share; a server's prompt cache does the same). fit_passages: drops the least
relevant passages until a prompt fits the engine's context.
"""
from __future__ import annotations

from medassist.papers.passages import PaperIndex, Passage, approx_tokens

QUERIES = {  # what a passage relevant to each field talks about (MiniLM is an English model)
    "background": "background and rationale of the study, the problem, the gap in knowledge and the study objective",
    "methods": "study design, setting, participants and sample size, inclusion criteria, intervention, outcome "
               "measures, data collection and statistical analysis",
    "results": "main results and findings with numbers, percentages, effect sizes, confidence intervals and p-values",
    "conclusions": "conclusions of the study, what the findings mean and the implications for practice",
    "limitations": "limitations of this study, weaknesses, possible bias, small sample, generalisability",
}
ABSTRACT_PART = {"background": ("abstract:background",), "methods": ("abstract:methods",),
                 "results": ("abstract:results",), "conclusions": ("abstract:conclusions",)}
PRIORS = {
    "background": {"background": 0.15, "abstract:background": 0.2},
    "methods": {"methods": 0.15, "abstract:methods": 0.2},
    "results": {"results": 0.15, "abstract:results": 0.2},
    "conclusions": {"conclusions": 0.15, "abstract:conclusions": 0.2, "discussion": 0.05},
    "limitations": {"discussion": 0.15, "conclusions": 0.05},
}


def batches_for(index: PaperIndex, f: str, cfg) -> list[list[Passage]]:
    """Passages for one field, in batches that each fit the context budget (cfg: a SummaryConfig)."""
    n = cfg.map_batches if index.paper.pages > cfg.long_pages else 1
    ranked = index.search(QUERIES[f], k=cfg.top_k * n, prior=PRIORS.get(f))
    # The paper's own structured abstract is the primary evidence for its field: it leads the first batch.
    own = [p for p in index.passages if p.kind in ABSTRACT_PART.get(f, ())]
    ranked = [(p, 1.0) for p in own] + [(p, s) for p, s in ranked if p not in own]
    out, cur, used = [], [], 0
    for p, _ in ranked:
        cost = approx_tokens(p.text)
        if cur and (used + cost > cfg.context_tokens or len(cur) >= cfg.top_k):
            out.append(cur)
            cur, used = [], 0
            if len(out) >= n:
                break
        cur.append(p)
        used += cost
    if cur and len(out) < n:
        out.append(cur)
    return out  # best first; fit_passages() trims from the end, prompts show them in page order


def shared_block(plan: dict[str, list[list[Passage]]], budget: int) -> list[Passage]:
    """One block for every field of a short paper: the fields' passages taken in turns (each field's best, then
    each one's second, ...) until `budget` tokens, so every field keeps its most relevant passages. Most
    relevant first (fit_passages trims from the end); prompts show them in page order."""
    queues = [list(batches[0]) for batches in plan.values() if batches]
    out, used = [], 0
    while any(queues):
        for q in queues:
            while q and q[0] in out:
                q.pop(0)
            if not q:
                continue
            cost = approx_tokens(q[0].text)
            if out and used + cost > budget:
                return out
            out.append(q.pop(0))
            used += cost
    return out


def fits(engine, system: str | None, messages: list[dict], max_new_tokens: int) -> bool:
    """Whether a prompt (no reasoning) and max_new_tokens fit the engine's context. The one place the paper
    features ask; an engine that cannot count tokens is trusted to fit."""
    room = getattr(engine, "prompt_room", None)
    return room is None or room(messages, system=system, think=False, max_new_tokens=max_new_tokens) >= 0


def fit_passages(engine, build, passages: list[Passage], max_new_tokens: int) -> tuple[str, list[dict], list[Passage]]:
    """build(passages) -> (system, messages); drops the least relevant passages until the prompt fits the context."""
    passages = list(passages)
    while True:
        shown = sorted(passages, key=lambda p: p.id)
        system, messages = build([(p.page, p.text) for p in shown])
        if len(passages) == 1 or fits(engine, system, messages, max_new_tokens):
            return system, messages, shown
        passages.pop()
