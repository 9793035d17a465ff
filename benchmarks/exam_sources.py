"""Exam accuracy with Q&A's sources in the prompt vs without, side by side, on the shared exam files.

    python -m benchmarks.exam_sources [--limit 60] [--sets medmcqa_dev,mmlu_medical,pubmedqa_test] [--k 3]
    python -m benchmarks.exam_sources --mode generate --limit 20 --out benchmarks/results/exam_sources_generate.json

Log-likelihood of each option letter (medassist.evals.evaluate.score_loglik: one forward pass per item), or with
--mode generate the model reasons and answers (score_generate, the exams' greedy settings), the same items twice: the question alone, and the question after the passages Q&A would show for it
(papers.sources.gather over the bundled reference, in the same <sources> block the app uses). The literature
(MIRAGE/MedRAG) finds retrieval helps exam accuracy little and can hurt small readers; the bar for Sources
being on by default is no drop beyond the 95% interval. Skips a set whose file is missing. Prints a table,
writes benchmarks/results/exam_sources.json.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from medassist.evals.evaluate import load_items, score_generate, score_loglik, wilson
from medassist.model.defaults import EXAM
from medassist.model.embed import load_embedder
from medassist.model.paths import data_dir, shared_data
from medassist.papers.reference import Reference
from medassist.papers.sources import gather, sources_block

OUT = Path(__file__).parent / "results" / "exam_sources.json"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=60, help="items per set (the first N)")
    ap.add_argument("--sets", default="medmcqa_dev,mmlu_medical,pubmedqa_test")
    ap.add_argument("--k", type=int, default=3, help="passages per question")
    ap.add_argument("--model", default=None)
    ap.add_argument("--mode", choices=["loglik", "generate"], default="loglik")
    ap.add_argument("--budget", type=int, default=EXAM.thinking_budget, help="reasoning tokens (generate mode)")
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args(argv)
    from medassist.model.engine import load_engine

    engine = load_engine(name=a.model)
    engine.reuse_kv = False  # every item read whole: the table does not depend on item order
    ref = Reference(data_dir() / "reference", load_embedder)
    ref.build()
    rows = {}
    for name in a.sets.split(","):
        path = shared_data() / "eval" / f"{name}.jsonl"
        if not path.exists():
            print(f"{name}: {path} not found, skipped")
            continue
        items = load_items(path, a.limit)
        right = {"without": 0, "with": 0}
        seconds = {"without": 0.0, "with": 0.0}
        found = 0
        for item in items:
            hits = gather(item["question"], ref, None, k=a.k)
            found += bool(hits)
            variants = {"without": item, "with": {**item, "question": f"{sources_block(hits)}\n\n{item['question']}"}
                        if hits else item}
            for mode, it in variants.items():
                t0 = time.perf_counter()
                pred = (score_loglik(engine, it) if a.mode == "loglik" else
                        score_generate(engine, it, a.budget, EXAM.max_new_tokens))["pred"]
                seconds[mode] += time.perf_counter() - t0
                right[mode] += pred in item["answer"]
        n = len(items)
        rows[name] = {"n": n, "with_passages": found, **{
            mode: {"accuracy": right[mode] / n, "ci95": [round(x, 3) for x in wilson(right[mode], n)],
                   "s_per_question": round(seconds[mode] / n, 2)} for mode in right}}
        print(f"{name}: without {right['without']}/{n}, with {right['with']}/{n} "
              f"(passages found for {found})", flush=True)
        save(a, engine, rows)  # after each set: a run stopped part-way keeps the sets it finished
    print("\n| exam (first N items) | without sources | with sources | items with passages | s/question without / with |"
          "\n| --- | --- | --- | --- | --- |")
    for name, r in rows.items():
        w, s = r["without"], r["with"]
        print(f"| {name} ({r['n']}) | {w['accuracy']:.1%} ({w['ci95'][0]:.0%}–{w['ci95'][1]:.0%}) | "
              f"{s['accuracy']:.1%} ({s['ci95'][0]:.0%}–{s['ci95'][1]:.0%}) | {r['with_passages']} | "
              f"{w['s_per_question']} / {s['s_per_question']} |")
    print(f"\nwrote {a.out}")


def save(a, engine, rows: dict) -> None:
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"model": engine.info.name, "k": a.k, "mode": a.mode,
                                 **({"budget": a.budget} if a.mode == "generate" else {}), "rows": rows}, indent=1),
                     encoding="utf-8")


if __name__ == "__main__":
    main()
