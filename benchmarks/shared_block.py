"""A short paper's summary fields reading one shared passage block (read once; each later field reads only its
request: SummaryConfig.shared) vs each field reading its own passages (the default), alternating runs on one engine.

    python -m benchmarks.shared_block                      # the three PDFs in ../shared/data/pdfs, 2 runs each
    python -m benchmarks.shared_block --pdf PAPER.pdf --runs 4

Per run: wall seconds, the checks' seconds, the model's seconds (the rest), tokens the model read (prompts and
judge together), bullets kept and removed. What the model writes changes (it sees more passages), so whether
the summaries stay as faithful is `python -m benchmarks.summary_facts --shared-block` against the default.
Prints a table and writes benchmarks/results/shared_block.json.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from benchmarks.judge_state import count_reads
from medassist.model.paths import REPO, shared_data


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pdf", nargs="*", default=None, help="default: the PDFs in ../shared/data/pdfs")
    ap.add_argument("--runs", type=int, default=2, help="runs of each mode per paper, alternating")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "shared_block.json"))
    a = ap.parse_args(argv)
    pdfs = [Path(p) for p in a.pdf] if a.pdf else sorted((shared_data() / "pdfs").glob("*.pdf"))
    if not pdfs or not all(p.exists() for p in pdfs):
        print("skipped: no PDFs here (../shared/data/pdfs, or --pdf)")
        return
    from medassist.model.embed import load_embedder
    from medassist.model.engine import load_engine
    from medassist.papers.passages import PaperIndex
    from medassist.papers.pdfread import read_pdf
    from medassist.papers.summarize import SummaryConfig, summarize

    engine, embedder = load_engine(), load_embedder()
    read = count_reads(engine)
    rows = []
    for pdf in pdfs:
        index = PaperIndex.build(read_pdf(pdf), embedder)
        for run in range(2 * a.runs):
            mode = "shared" if run % 2 == 0 else "per-field"
            engine.forget()
            engine.generate([{"role": "user", "content": "Hello"}], thinking_budget=0, max_new_tokens=4)  # warm
            read["tokens"] = 0
            t = time.perf_counter()
            s = next(ev["summary"] for ev in summarize(index, engine, SummaryConfig(shared=mode == "shared"))
                     if ev["type"] == "done")
            wall = time.perf_counter() - t
            rows.append({"pdf": pdf.name, "pages": index.paper.pages, "mode": mode, "wall_s": round(wall, 1),
                         "check_s": s.stats.get("check_seconds"), "model_s": round(wall - s.stats.get("check_seconds", 0), 1),
                         "tokens_read": read["tokens"], "bullets": sum(len(b) for b in s.fields.values()),
                         "dropped": len(s.dropped),
                         "fields": {f: [b.text for b in bs] for f, bs in s.fields.items()}})
            print(json.dumps({k: v for k, v in rows[-1].items() if k != "fields"}), flush=True)
    print("\n| paper | pages | mode | runs | wall s | model s | checks s | tokens read | bullets kept / removed |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for pdf in pdfs:
        for mode in ("shared", "per-field"):
            rs = [r for r in rows if r["pdf"] == pdf.name and r["mode"] == mode]
            mean = lambda k: round(sum(r[k] for r in rs) / len(rs), 1)  # noqa: E731
            print(f"| {pdf.stem[:28]} | {rs[0]['pages']} | {mode} | {len(rs)} | {mean('wall_s')} | {mean('model_s')} | "
                  f"{mean('check_s')} | {mean('tokens_read'):.0f} | {mean('bullets'):.0f} / {mean('dropped'):.0f} |")
    Path(a.out).write_text(json.dumps({"model": engine.info.name, "runs": rows}, indent=1, ensure_ascii=False))
    print(f"\nwrote {a.out}")


if __name__ == "__main__":
    main()
