"""A Chinese question against the English reference: the bilingual term list vs the model rewriting the
question into English search terms, side by side on the judged Chinese questions.

    python -m benchmarks.chinese_queries [--model NAME]

The reference (MedQuAD) is English. Q&A finds its passages for a Chinese question through the term list
(assets/knowledge/terms.tsv: 心肌梗死 -> myocardial infarction, ...). The alternative the issue names: the model
translates the question into English search terms first (one short greedy generation, no reasoning). Rows: no
help (the question as typed), the term list (shipped), the model's rewrite, and both; recall@5 as in
benchmarks/retrieval.py (hybrid search), over the judged Chinese questions (labels/retrieval.tsv and the held-out
file), and the rewrite's seconds per question. Prints a table, writes benchmarks/results/chinese_queries.json.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from benchmarks.retrieval import HELD_OUT, load_labels, score
from medassist.model.embed import load_embedder
from medassist.model.paths import data_dir
from medassist.papers.reference import Reference
from medassist.papers.search import Terms

OUT = Path(__file__).parent / "results" / "chinese_queries.json"
REWRITE = ("Rewrite this medical question as English search terms for a medical reference: the disease or "
           "topic and what is asked (symptoms, treatment, causes, tests, outlook, genetics). Reply with the "
           "English terms only.\n\nQuestion: {q}")


def rewrite(engine, question: str) -> str:
    r = engine.generate([{"role": "user", "content": REWRITE.format(q=question)}], thinking_budget=0,
                        max_new_tokens=32, temperature=0)
    return " ".join(r.answer.split())


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args(argv)
    from medassist.model.engine import load_engine

    ref = Reference(data_dir() / "reference", load_embedder)
    ref.build()
    ref.dense("warm up")
    engine = load_engine(name=a.model)
    questions = [q for q in load_labels() + load_labels(HELD_OUT) if q["style"] == "chinese"]
    t0 = time.perf_counter()
    rewritten = []
    for q in questions:
        terms = rewrite(engine, q["question"])
        rewritten.append({**q, "question": f"{q['question']} {terms}", "terms": terms})
        print(f"{q['question']} -> {terms}", flush=True)
    seconds = (time.perf_counter() - t0) / len(questions)
    shipped = ref.terms
    rows = {}
    for name, items, terms in (("the question as typed (no term list)", questions, Terms()),
                               ("term list (shipped)", questions, shipped),
                               ("model rewrite, no term list", rewritten, Terms()),
                               ("model rewrite + term list", rewritten, shipped)):
        ref.terms = terms
        rows[name] = score(ref, items, "hybrid")
    ref.terms = shipped
    print(f"\n{len(questions)} judged Chinese questions; the rewrite took {seconds:.1f} s per question "
          f"({engine.info.name})\n\n| Chinese question searched with | recall@5 | MRR@10 |\n| --- | --- | --- |")
    for name, r in rows.items():
        print(f"| {name} | {r['recall@5']:.1%} | {r['mrr@10']:.3f} |")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"model": engine.info.name, "questions": len(questions), "rewrite_seconds":
                                 round(seconds, 2), "rows": rows, "rewrites": [
                                     {"question": q["question"], "terms": r["terms"]}
                                     for q, r in zip(questions, rewritten)]}, indent=1, ensure_ascii=False),
                     encoding="utf-8")
    print(f"\nwrote {a.out}")


if __name__ == "__main__":
    main()
