"""A medical check for any model: which one knows medicine? Scores a model on the exam sample that ships with
MedAssist (150 MedMCQA questions, assets/exams/) and remembers the result beside the model's name.

    medassist-check                                            # the model this computer built
    medassist-check --endpoint http://127.0.0.1:8080/v1 --model deepseek-r1-distill-qwen-7b
    medassist-check --limit 20                                 # a quick look (a wider interval)

A local model is scored by log-likelihood (the letter it finds most likely after the question: one forward pass a
question, about a minute in all). A model on a server is asked to reason and answer (generate mode, the exam
settings of medassist.model.defaults.EXAM); its answer letter is read from the text, and format compliance
(reasoning closed and one answer given) and seconds per question are reported too. Results go to
<data folder>/model_checks.json; the Settings tab shows them next to each model.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import Callable

from medassist.evals.evaluate import load_items, score_generate, score_loglik, wilson
from medassist.model.defaults import EXAM
from medassist.model.paths import ASSETS, data_dir

SAMPLE = ASSETS / "exams" / "medmcqa-check-150.jsonl"
CHANCE = 0.25  # four options


def label(engine) -> str:
    """The name a check is stored under: the model and, for a server, where it runs."""
    i = engine.info
    return f"{i.name} · remote · {i.extra['host']}" if i.backend == "remote" else f"{i.name} · {i.precision}"


def check(engine, items: list[dict] | None = None, *, mode: str | None = None, budget: int = EXAM.thinking_budget,
          progress: Callable[[int, int], None] | None = None, cancel: threading.Event | None = None) -> dict:
    """Score `engine` on the items (default: the shipped sample); progress(done, total) after each question."""
    exam = SAMPLE.name if items is None else f"{len(items)} questions"
    items = items if items is not None else load_items(SAMPLE)
    mode = mode or ("generate" if engine.info.backend == "remote" else "loglik")
    rows, t0 = [], time.perf_counter()
    for k, item in enumerate(items):
        if cancel is not None and cancel.is_set():
            break
        t = time.perf_counter()
        r = score_loglik(engine, item) if mode == "loglik" else score_generate(engine, item, budget, EXAM.max_new_tokens)
        rows.append({"correct": r["pred"] in item["answer"], "answered": r["pred"] is not None,
                     "compliant": r.get("compliant"), "seconds": time.perf_counter() - t})
        if progress:
            progress(k + 1, len(items))
    n = len(rows)
    right = sum(r["correct"] for r in rows)
    lo, hi = wilson(right, n)
    out = {"model": label(engine), "exam": exam, "mode": mode, "n": n,
           "of": len(items), "accuracy": right / n if n else 0.0, "ci95": [lo, hi],
           "answered": sum(r["answered"] for r in rows) / max(n, 1),
           "seconds_per_question": (time.perf_counter() - t0) / max(n, 1),
           "checked": time.strftime("%Y-%m-%d %H:%M"), "complete": n == len(items)}
    if mode == "generate":
        out["format_compliance"] = sum(r["compliant"] or 0 for r in rows) / max(n, 1)
    return out


class Results:
    """Stored check results, one per model label (the latest run wins), in the data folder."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else data_dir() / "model_checks.json"

    def all(self) -> dict[str, dict]:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def save(self, result: dict) -> None:
        data = self.all()
        data[result["model"]] = result
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
        tmp.replace(self.path)


def describe(r: dict, lang: str = "en") -> str:
    """One line: accuracy with its interval, against chance, and the cost."""
    lo, hi = r["ci95"]
    extra = f", format {r['format_compliance']:.0%}" if "format_compliance" in r else ""
    partial = "" if r.get("complete", True) else (f" (stopped at {r['n']}/{r['of']})" if lang == "en"
                                                     else f"（在 {r['n']}/{r['of']} 处停止）")
    if lang == "zh":
        return (f"{r['accuracy']:.0%}（95% 区间 {lo:.0%}–{hi:.0%}，随机猜测 {CHANCE:.0%}），{r['n']} 题，"
                f"{r['mode']}{extra}，每题 {r['seconds_per_question']:.1f} 秒{partial}")
    return (f"{r['accuracy']:.0%} (95% interval {lo:.0%}–{hi:.0%}; chance {CHANCE:.0%}) on {r['n']} questions, "
            f"{r['mode']}{extra}, {r['seconds_per_question']:.1f} s/question{partial}")


def main(argv=None) -> None:
    from medassist.model import endpoints
    from medassist.model.engine import load_engine
    from medassist.model.engine.remote import RemoteError

    ap = argparse.ArgumentParser(prog="medassist-check", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model-path", default=None, help="a built model folder (default: the model this computer built)")
    endpoints.add_flags(ap)
    ap.add_argument("--mode", choices=["loglik", "generate"], default=None,
                    help="default: loglik for a local model, generate for a server")
    ap.add_argument("--limit", type=int, default=None, help="only the first N questions")
    ap.add_argument("--thinking-budget", type=int, default=EXAM.thinking_budget)
    args = ap.parse_args(argv)
    try:
        engine = load_engine(args.model_path, endpoint=endpoints.from_args(args))
        items = load_items(SAMPLE, args.limit) if args.limit else None
        if args.mode == "loglik" and engine.info.backend == "remote":
            raise ValueError("a model on a server can only be checked in generate mode")
        r = check(engine, items, mode=args.mode, budget=args.thinking_budget,
                  progress=lambda k, n: print(f"\r{k}/{n}", end="", file=sys.stderr, flush=True))
    except (FileNotFoundError, ValueError, RemoteError) as e:
        sys.exit(f"error: {e}")
    print(file=sys.stderr)
    Results().save(r)
    print(f"{r['model']}: {describe(r)}")


if __name__ == "__main__":
    main()
