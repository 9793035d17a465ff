"""Soak: many questions and PDF summaries in a row through the app's own handlers; does memory stay flat?

    python -m benchmarks.soak                         # 100 questions + 10 PDF summaries (~30 min on 2 cores)
    python -m benchmarks.soak --questions 20 --pdfs 3 # a shorter run

Drives app.qa.respond and app.literature.run_summary (the functions the page calls) with the default
model, history in a temporary data folder. Questions: the app's examples and MedMCQA items, cycled.
PDFs: ../shared/data/pdfs (or MEDASSIST_SHARED), cycled. RSS is sampled every 0.5 s; "growth" compares
the end of each phase with the process after warm-up (first 10 questions; first summary), so model
loading and first-use allocations are not counted as a leak. Prints a table, writes benchmarks/results/soak.json.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ["MEDASSIST_DATA"] = tempfile.mkdtemp(prefix="medassist-soak-")

from medassist.model.paths import REPO as ROOT
from medassist.model.paths import shared_data


class Sampler(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        import psutil

        self.proc, self.samples, self.stop = psutil.Process(), [], threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.samples.append((time.perf_counter(), self.proc.memory_info().rss / 2**30))
            time.sleep(0.5)

    def now(self) -> float:
        return self.proc.memory_info().rss / 2**30


def questions(n: int) -> list[str]:
    from medassist.app.i18n import EXAMPLES

    qs = list(EXAMPLES)
    exam = shared_data() / "eval" / "medmcqa_dev.jsonl"
    if exam.exists():
        for line in exam.read_text(encoding="utf-8").splitlines()[: n]:
            r = json.loads(line)
            qs.append(r["problem_text"] + "\n" + "\n".join(f"({'ABCD'[i]}) {c}" for i, c in enumerate(r["choices"])))
    return [qs[i % len(qs)] for i in range(n)]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", type=int, default=100)
    ap.add_argument("--pdfs", type=int, default=10)
    ap.add_argument("--budget", type=int, default=128, help="thinking budget per question")
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "soak.json"))
    args = ap.parse_args(argv)
    from medassist.app.tabs import literature, qa
    from medassist.app.config import AppConfig
    from medassist.store.history import History
    from medassist.app.service import ModelService

    cfg = AppConfig(language="en")
    service = ModelService(cfg).start()
    if not service.wait():
        sys.exit(f"error: the model is not available: {service.status.message}")
    history = History(cfg.history_path)
    sampler = Sampler()
    sampler.start()
    res: dict = {"model": service.describe(), "rss_start_gib": round(sampler.now(), 2)}

    t0, warm = time.perf_counter(), None
    for i, q in enumerate(questions(args.questions)):
        state = qa.new_state()
        for out in qa.respond(service, history, q, [], state, args.budget, 0.6, args.max_new_tokens, "English"):
            pass
        if "tokens/s" not in out[3]:
            print(f"question {i}: no answer ({out[0][-1]['content'][:80]!r})", flush=True)
        if i == min(9, args.questions - 1):
            warm = sampler.now()
        if (i + 1) % 10 == 0:
            print(f"{i + 1} questions, RSS {sampler.now():.2f} GiB, {time.perf_counter() - t0:.0f} s", flush=True)
    res["questions"] = {"n": args.questions, "seconds": round(time.perf_counter() - t0, 1),
                        "rss_after_warmup_gib": round(warm or 0, 2), "rss_end_gib": round(sampler.now(), 2)}

    pdfs = sorted((shared_data() / "pdfs").glob("*.pdf"))
    warm_pdf, times = None, []
    for i in range(args.pdfs if pdfs else 0):
        t = time.perf_counter()
        outs = list(literature.run_summary(service, history, cfg, str(pdfs[i % len(pdfs)]), "English", "English",
                                           literature.new_state(), progress=lambda *a, **k: None))
        times.append(round(time.perf_counter() - t, 1))
        if not str(outs[-1][0]).startswith("✅"):
            print(f"pdf {i}: {outs[-1][0]}", flush=True)
        if i == 0:
            warm_pdf = sampler.now()
        print(f"{i + 1} summaries, RSS {sampler.now():.2f} GiB, last {times[-1]} s", flush=True)
    res["pdfs"] = {"n": len(times), "seconds": times, "rss_after_first_gib": round(warm_pdf or 0, 2),
                   "rss_end_gib": round(sampler.now(), 2)}
    sampler.stop.set()
    res["rss_peak_gib"] = round(max(r for _, r in sampler.samples), 2)
    q, p = res["questions"], res["pdfs"]
    q["growth"] = round(q["rss_end_gib"] / q["rss_after_warmup_gib"] - 1, 3) if q["rss_after_warmup_gib"] else None
    p["growth"] = round(p["rss_end_gib"] / p["rss_after_first_gib"] - 1, 3) if p["rss_after_first_gib"] else None
    res["samples"] = [(round(t - t0, 1), round(r, 3)) for t, r in sampler.samples[::10]]
    print("\n| phase | n | wall s | RSS after warm-up GiB | RSS end GiB | growth |\n|---|---|---|---|---|---|")
    print(f"| questions | {q['n']} | {q['seconds']} | {q['rss_after_warmup_gib']} | {q['rss_end_gib']} | {q['growth']:+.1%} |")
    if p["n"]:
        print(f"| PDF summaries | {p['n']} | {sum(p['seconds']):.0f} | {p['rss_after_first_gib']} | {p['rss_end_gib']} | "
              f"{p['growth']:+.1%} |")
    print(f"peak RSS {res['rss_peak_gib']} GiB")
    Path(args.out).write_text(json.dumps(res, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
