"""The evaluation table for the model card: base vs fine-tuned, bf16 vs ONNX INT8 vs INT4, on each exam.

    python -m medassist.evals.eval_table                       # every row below, resumable (finished cells are kept)
    python -m medassist.evals.eval_table --only ft-int8 base-int8 --limit medmcqa=100
    python -m medassist.evals.eval_table --report --limit pubmedqa=100    # print what is measured so far
    python -m medassist.evals.eval_table --mode generate --budget 1024 --only ft-int8 --exams medmcqa --limit medmcqa=40

Each cell runs finetune.evaluate on one model and one exam (../shared/data/eval, or MEDASSIST_SHARED)
and keeps its per-item JSONL and summary in runs/eval_table/. An interrupted cell resumes from its
JSONL; a cell on more items (--limit medmcqa=200) starts from the same cell on fewer, so it scores
only the new items. The table is printed and written to
benchmarks/results/eval_table.json; copy it into assets/adapter/README.md and the README.
Models are the ones `python -m medassist.model build` makes (add `--precision int4` for the INT4 rows); a missing
model is reported and skipped, never built here, so this script never starts an 18 GB job by surprise.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path


from medassist.model.paths import REPO as ROOT
from medassist.evals.evaluate import evaluate, with_shots
from medassist.model import bases
from medassist.model.paths import models_dir, shared_data
from medassist.model.registry import MERGED_DIR, onnx_dir_name, tuned_name

BASE = bases.DEFAULT_BASE
FT = tuned_name(BASE)
INT8, INT4 = onnx_dir_name("int8"), onnx_dir_name("int4")
# row name -> (engine backend, model folder under the model cache)
MODELS = {
    "base-int8": ("onnx", f"{BASE}/{INT8}"),
    "ft-int8": ("onnx", f"{FT}/{INT8}"),
    "ft-int4": ("onnx", f"{FT}/{INT4}"),
    "ft-bf16": ("torch", f"{FT}/{MERGED_DIR}"),
    "base-bf16": ("torch", f"{BASE}/hf"),
    "base-int4": ("onnx", f"{BASE}/{INT4}"),
}
# exam -> (file under eval/, default item count). PubMedQA items carry a ~400-token abstract, so fewer.
EXAMS = {"medmcqa": ("medmcqa_dev.jsonl", 500), "pubmedqa": ("pubmedqa_test.jsonl", 150),
         "mmlu-medical": ("mmlu_medical.jsonl", 250)}
OUT = ROOT / "runs" / "eval_table"


def _seed_from_smaller(out: Path, limit: int) -> Path | None:
    """Start a cell with no rows yet from the same cell on fewer items (the first N of the same exam,
    scored the same way), so growing a sample from 100 to 200 items scores only the new 100."""
    prefix, _, n = out.stem.rpartition(".")
    if out.exists() or not n.isdigit() or int(n) != limit:
        return None
    smaller = [(int(m.group(1)), f) for f in out.parent.glob(f"{prefix}.*.jsonl")
               if (m := re.fullmatch(re.escape(prefix) + r"\.(\d+)\.jsonl", f.name)) and int(m.group(1)) < limit]
    if not smaller:
        return None
    src = max(smaller)[1]
    shutil.copyfile(src, out)
    return src


def run_cell(model: str, exam: str, limit: int, mode: str, threads: int | None, report: bool = False,
             budget: int = 512, out_dir: Path = OUT, tag: str | None = None, **levers) -> dict | None:
    """One model on one exam (levers: shots, samples, temperature; see finetune.evaluate)."""
    from medassist.model.engine import load_engine

    tag = tag or f"{model}.{exam}.{mode if mode == 'loglik' else f'generate-b{budget}'}.{limit}"
    summary_path = out_dir / f"{tag}.summary.json"
    if summary_path.exists():
        return json.loads(summary_path.read_text())
    if report:
        return None
    backend, folder = MODELS[model]
    path = models_dir() / folder
    if not path.exists():
        print(f"skip {model}: {path} not built", flush=True)
        return None
    items, shots = with_shots(shared_data() / "eval" / EXAMS[exam][0], limit, levers.pop("shots", 0))
    out = out_dir / f"{tag}.jsonl"
    grown_from = _seed_from_smaller(out, limit)
    engine = load_engine(str(path), backend=backend, threads=threads)
    engine.reuse_kv = False  # every item read whole: the table does not depend on the items' order
    print(f"== {tag}" + (f" (continuing {grown_from.name})" if grown_from else ""), flush=True)
    summary = evaluate(engine, items, mode, budget=budget, max_new_tokens=256, out=out, shots=shots,
                       resume=True, **levers)
    summary.update(model=model, exam=exam, tag=tag)
    summary_path.write_text(json.dumps(summary, indent=2, default=str))
    del engine
    return summary


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=list(MODELS), choices=list(MODELS))
    ap.add_argument("--exams", nargs="*", default=list(EXAMS), choices=list(EXAMS))
    ap.add_argument("--limit", nargs="*", default=[], help="exam=N overrides, e.g. medmcqa=100")
    ap.add_argument("--mode", choices=["loglik", "generate"], default="loglik")
    ap.add_argument("--budget", type=int, default=512, help="thinking budget in generate mode")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--report", action="store_true", help="only print the cells already measured")
    args = ap.parse_args(argv)
    if not (shared_data() / "eval").exists():
        sys.exit(f"error: no exams at {shared_data() / 'eval'} (set MEDASSIST_SHARED)")
    limits = {k: n for k, (_, n) in EXAMS.items()} | {k: int(v) for k, v in (x.split("=") for x in args.limit)}
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    for model in args.only:
        for exam in args.exams:
            s = run_cell(model, exam, limits[exam], args.mode, args.threads, args.report, args.budget)
            if s:
                rows.append(s)
    res = ROOT / "benchmarks" / "results" / f"eval_table{'' if args.mode == 'loglik' else f'_generate_b{args.budget}'}.json"
    res.write_text(json.dumps(rows, indent=2, default=str))
    print("\n| model | exam | n | accuracy (95% CI) | s/item |" + (f" compliance (budget {args.budget}) | reasoning tokens |" if args.mode == "generate" else ""))
    print("|---|---|---|---|---|" + ("---|---|" if args.mode == "generate" else ""))
    for s in rows:
        lo, hi = s["ci95"]
        line = f"| {s['model']} | {s['exam']} | {s['n']} | {s['accuracy']:.1%} ({lo:.1%}–{hi:.1%}) | {s['seconds_per_item']:.2f} |"
        if args.mode == "generate":
            line += f" {s['format_compliance']:.0%} | {s['mean_reasoning_tokens']:.0f} |"
        print(line)
    print(f"wrote {res}")


if __name__ == "__main__":
    main()
