"""The summary's claim-level judge with its scoring state kept across fields vs a fresh state per field (as
before 2026-11-28), on one paper, alternating runs on the same engine (the machine is noisy: compare pairs).

    python -m benchmarks.judge_state                       # the 10-page BMC paper in ../shared/data/pdfs, 4 runs
    python -m benchmarks.judge_state --pdf PAPER.pdf --runs 6

Each field's sentences are judged in a call of their own, and every call starts with the same instructions
(~106 tokens); a kept state reads them once per summary. Per run: wall seconds, the checks' seconds, tokens the
model read (prompts and judge together), bullets and the judge's margins (the decisions must not change).
Prints a table and writes benchmarks/results/judge_state.json.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from medassist.model.paths import REPO, shared_data


def count_reads(engine) -> dict:
    """{"tokens": n}: every token any state of this local engine reads from now on (prompts and judge alike)."""
    read = {"tokens": 0}
    new_session = engine.new_session

    def counted(capacity):
        s = new_session(capacity)
        feed = s.feed
        s.feed = lambda ids: (read.__setitem__("tokens", read["tokens"] + len(ids)), feed(ids))[1]
        return s
    engine.new_session = counted
    return read


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pdf", default=str(shared_data() / "pdfs" / "bmc_hsr_2014_malawi_quality.pdf"))
    ap.add_argument("--runs", type=int, default=4)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "judge_state.json"))
    a = ap.parse_args(argv)
    if not Path(a.pdf).exists():
        print(f"skipped: {a.pdf} is not here (../shared/data)")
        return
    from medassist.model.embed import load_embedder
    from medassist.model.engine import load_engine
    from medassist.papers.passages import PaperIndex
    from medassist.papers.pdfread import read_pdf
    from medassist.papers.summarize import SummaryConfig, summarize

    engine, embedder = load_engine(), load_embedder()
    read = count_reads(engine)
    kept_scores = type(engine).letter_scores_many

    def fresh_scores(self, *args, **kw):  # as before: a new state for every call
        self._scoring = None
        return kept_scores(self, *args, **kw)

    rows = []
    for run in range(a.runs):
        mode = "kept" if run % 2 == 0 else "fresh"
        engine.letter_scores_many = (kept_scores if mode == "kept" else fresh_scores).__get__(engine)
        engine.forget()
        engine.generate([{"role": "user", "content": "Hello"}], thinking_budget=0, max_new_tokens=4)  # warm
        index = PaperIndex.build(read_pdf(Path(a.pdf)), embedder)
        read["tokens"] = 0
        t = time.perf_counter()
        s = next(ev["summary"] for ev in summarize(index, engine, SummaryConfig()) if ev["type"] == "done")
        rows.append({"mode": mode, "wall_s": round(time.perf_counter() - t, 1), "check_s": s.stats.get("check_seconds"),
                     "tokens_read": read["tokens"], "bullets": sum(len(b) for b in s.fields.values()),
                     "dropped": len(s.dropped), "judges": [b.judge for bs in s.fields.values() for b in bs]})
        print(json.dumps(rows[-1]), flush=True)
    print("\n| state | runs | wall s | checks s | tokens read | bullets |\n| --- | --- | --- | --- | --- | --- |")
    for mode in ("kept", "fresh"):
        rs = [r for r in rows if r["mode"] == mode]
        if rs:
            mean = lambda k: round(sum(r[k] for r in rs) / len(rs), 1)  # noqa: E731
            print(f"| {mode} | {len(rs)} | {mean('wall_s')} | {mean('check_s')} | {mean('tokens_read'):.0f} | "
                  f"{mean('bullets'):.0f} |")
    Path(a.out).write_text(json.dumps({"pdf": Path(a.pdf).name, "model": engine.info.name, "runs": rows}, indent=1))
    print(f"\nwrote {a.out}")


if __name__ == "__main__":
    main()
