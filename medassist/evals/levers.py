"""Accuracy levers against time per question: few-shot, thinking budget, self-consistency, repetition penalty.

    python -m medassist.evals.levers                                  # every lever below, resumable
    python -m medassist.evals.levers --only budget-512 t0.6-512 --n-generate 20
    python -m medassist.evals.levers --report                         # print what is measured so far

Every lever runs on the same model (default: the fine-tuned ONNX INT8 the app uses) and the same
first items of MedMCQA dev, so rows compare directly: loglik rows on --n-loglik items, generate rows
on --n-generate items (a reasoning chain costs ~100x a log-likelihood pass). Few-shot exemplars are
the exam file's last items, never evaluated. Cells are kept in runs/levers/; the table is printed and
written to benchmarks/results/levers.json. A lever run on more items (--n-generate 200 after 100)
starts from its smaller cell and scores only the new items. "think end" counts what closed each reasoning chain:
the model itself, the loop guard, or the budget. Times are seconds per question on this machine; compare
them only within one run (--threads fixes the thread count for all rows).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


from medassist.model.paths import REPO as ROOT
from medassist.evals.eval_table import MODELS, run_cell
from medassist.model.paths import shared_data

# name -> run_cell keyword arguments. Budgets bracket the training data's reasoning length
# (median 476 tokens, 90th percentile 603 on the shared sample).
LEVERS = {
    "loglik": {"mode": "loglik"},
    "loglik-3shot": {"mode": "loglik", "shots": 3},
    # Greedy reasoning, with the engine's loop guard (the app's default) and without it.
    "budget-256-noguard": {"mode": "generate", "budget": 256, "loop_guard": False},
    "budget-512-noguard": {"mode": "generate", "budget": 512, "loop_guard": False},
    "budget-1024-noguard": {"mode": "generate", "budget": 1024, "loop_guard": False},
    "budget-512": {"mode": "generate", "budget": 512},
    "budget-1024": {"mode": "generate", "budget": 1024},
    # One chain sampled at the app's temperature (DeepSeek-R1's advice against greedy loops), then five that vote.
    "t0.6-512": {"mode": "generate", "budget": 512, "temperature": 0.6},
    "sc5-512": {"mode": "generate", "budget": 512, "samples": 5, "temperature": 0.6},
    # Greedy with a repetition penalty (Qwen2.5's own generation configs use 1.05-1.1): fewer loops?
    "rp1.05-512": {"mode": "generate", "budget": 512, "repetition_penalty": 1.05},
    "rp1.1-512": {"mode": "generate", "budget": 512, "repetition_penalty": 1.1},
    "rp1.1-1024": {"mode": "generate", "budget": 1024, "repetition_penalty": 1.1},
    "rp1.15-1024": {"mode": "generate", "budget": 1024, "repetition_penalty": 1.15},
    # The app's defaults: one chain at T=0.6, penalty 1.15 (before: 1.1), budget 1,024.
    "t0.6-rp1.1-1024": {"mode": "generate", "budget": 1024, "repetition_penalty": 1.1, "temperature": 0.6},
    "t0.6-rp1.15-1024": {"mode": "generate", "budget": 1024, "repetition_penalty": 1.15, "temperature": 0.6},
    # Self-consistency on top of the app's previous defaults: three chains vote.
    "sc3-rp1.1-1024": {"mode": "generate", "budget": 1024, "repetition_penalty": 1.1, "temperature": 0.6,
                       "samples": 3},
}
OUT = ROOT / "runs" / "levers"


def think_ends(summary: dict) -> str:
    """model/loop/budget counts; cells measured before the loop guard existed only know the budget."""
    ends = summary.get("think_end")
    if ends is None:
        return "—"
    return "/".join(str(ends.get(k, 0)) for k in ("model", "loop", "budget"))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=list(LEVERS), choices=list(LEVERS))
    ap.add_argument("--model", default="ft-int8", choices=list(MODELS))
    ap.add_argument("--exam", default="medmcqa")
    ap.add_argument("--n-loglik", type=int, default=200)
    ap.add_argument("--n-generate", type=int, default=20)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--report", action="store_true", help="only print the cells already measured")
    ap.add_argument("--cells", default=str(OUT), help="folder for per-lever JSONL and summaries")
    ap.add_argument("--results", default=str(ROOT / "benchmarks" / "results" / "levers.json"))
    args = ap.parse_args(argv)
    if not (shared_data() / "eval").exists():
        sys.exit(f"error: no exams at {shared_data() / 'eval'} (set MEDASSIST_SHARED)")
    cells = Path(args.cells)
    cells.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.only:
        kw = dict(LEVERS[name])
        mode = kw.pop("mode")
        n = args.n_loglik if mode == "loglik" else args.n_generate
        s = run_cell(args.model, args.exam, n, mode, args.threads, args.report, out_dir=cells,
                     tag=f"{args.model}.{args.exam}.{name}.{n}", **kw)
        if s:
            rows.append(s | {"lever": name})
    res = Path(args.results)
    res.write_text(json.dumps(rows, indent=2, default=str))
    print(f"\n{args.model} on {args.exam}\n")
    print("| lever | n | accuracy (95% CI) | format compliance | think end (model/loop/budget) | reasoning tokens | s/question |")
    print("|---|---|---|---|---|---|---|")
    for s in rows:
        lo, hi = s["ci95"]
        gen = s["mode"] == "generate"
        print(f"| {s['lever']} | {s['n']} | {s['accuracy']:.1%} ({lo:.1%}–{hi:.1%}) | "
              f"{format(s['format_compliance'], '.0%') if gen else '—'} | {think_ends(s) if gen else '—'} | "
              f"{format(s['mean_reasoning_tokens'], '.0f') if gen else '—'} | {s['seconds_per_item']:.1f} |")
    print(f"wrote {res}")


if __name__ == "__main__":
    main()
