"""How faithful and how fast are the Literature tab's summaries? Scored against each paper's own abstract.

    python -m benchmarks.summaries                          # ../shared/data/pdfs (or MEDASSIST_SHARED)
    python -m benchmarks.summaries --pdfs DIR --lang zh --model-path FOLDER

Per paper, with the default model (the one the app uses): per-field similarity of the summary to the
paper's structured abstract (references.json) as embedding cosine (all-MiniLM-L6-v2) and ROUGE-L F1;
numbers in the summary that are not in the PDF (goal 0) and sentences the number check removed;
citations whose page does not support the sentence (goal <= 5%): supported means the cited page has a
passage with cosine >= 0.5 to the sentence, or one holding >= 60% of the sentence's content words;
wall time per paper and per page (goal: a 10-page paper in <= 90 s on 2 cores). Prints a table and
writes benchmarks/results/summaries.json. Note: the abstract is part of the PDF the model reads.
"""
from __future__ import annotations

import argparse
import json
from collections import Counter
import re
import sys
import time
from pathlib import Path


from medassist.model.paths import REPO as ROOT
from medassist.papers.factcheck import NumberGuard
from medassist.papers.passages import PaperIndex
from medassist.papers.pdfread import read_pdf
from medassist.papers.summarize import SummaryConfig, summarize
from medassist.model.paths import shared_data

REF_FIELD = {"background": ("background", "objective", "objectives"), "methods": ("methods",),
             "results": ("results",), "conclusions": ("conclusions", "conclusion")}
STOP = set("the a an and or of in to for with on by at from as is are was were be been that this these those it its "
           "we our their they which who than then also not no".split())


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+(?:\.[0-9]+)?", text.lower())


def rouge_l(candidate: str, reference: str) -> float:
    a, b = words(candidate), words(reference)
    if not a or not b:
        return 0.0
    prev = [0] * (len(b) + 1)
    for x in a:  # longest common subsequence, one row at a time
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    lcs = prev[-1]
    p, r = lcs / len(a), lcs / len(b)
    return 0.0 if lcs == 0 else 2 * p * r / (p + r)


def supported(index: PaperIndex, sentence: str, page: int, sim_row) -> bool:
    on_page = [p for p in index.passages if p.page == page]
    if any(sim_row[p.id] >= 0.5 for p in on_page):
        return True
    content = {w for w in words(sentence) if w not in STOP and len(w) > 2}
    page_words = set(words(" ".join(p.text for p in on_page)))
    return bool(content) and len(content & page_words) / len(content) >= 0.6


def score_paper(pdf: Path, reference: dict, engine, embedder, cfg: SummaryConfig, model: str) -> dict:
    t0 = time.perf_counter()
    index = PaperIndex.build(read_pdf(pdf), embedder)
    summary = next(ev["summary"] for ev in summarize(index, engine, cfg, source=pdf.name, model=model)
                   if ev["type"] == "done")
    seconds = time.perf_counter() - t0
    guard = NumberGuard(index.text)
    bullets = [(f, b) for f, bs in summary.fields.items() for b in bs]
    unfound = [n for _, b in bullets for n in guard.missing(b.text)]
    sims = index.similarity([b.text for _, b in bullets]) if bullets else []
    cites = [(i, pg) for i, (_, b) in enumerate(bullets) for pg in b.pages]
    unsupported = [(bullets[i][1].text, pg) for i, pg in cites if not supported(index, bullets[i][1].text, pg, sims[i])]
    ref = {k.lower(): v for k, v in reference.get("abstract", {}).items()}
    fields = {}
    for f, names in REF_FIELD.items():
        ref_text = " ".join(ref[n] for n in names if n in ref)
        got = " ".join(b.text for b in summary.fields.get(f, []))
        if ref_text:
            a, b = embedder.encode([got or "-", ref_text])
            fields[f] = {"cosine": round(float(a @ b), 3), "rouge_l": round(rouge_l(got, ref_text), 3)}
    return {"paper": pdf.name, "pages": index.paper.pages, "seconds": round(seconds, 1),
            "seconds_per_page": round(seconds / index.paper.pages, 2), "bullets": len(bullets),
            "citations": len(cites), "unsupported_citations": len(unsupported), "unsupported": unsupported[:5],
            "numbers_not_in_pdf": len(unfound), "sentences_dropped": len(summary.dropped),
            "dropped_by_reason": dict(Counter(d["reason"] for d in summary.dropped)),
            "check_seconds": summary.stats.get("check_seconds"),
            "fields": fields, "generated_tokens": summary.stats["generated_tokens"],
            "model_calls": summary.stats["model_calls"], "summary": summary.to_json()}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pdfs", default=str(shared_data() / "pdfs"))
    ap.add_argument("--lang", default="en", choices=["en", "zh"])
    ap.add_argument("--model-path", default=None)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--no-judge", action="store_true", help="the cosine support check only (as before #22's judge)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "summaries.json"))
    args = ap.parse_args(argv)
    folder = Path(args.pdfs)
    pdfs = sorted(folder.glob("*.pdf"))
    if not pdfs:
        sys.exit(f"error: no PDFs in {folder} (set MEDASSIST_SHARED or --pdfs)")
    refs = json.loads((folder / "references.json").read_text()) if (folder / "references.json").exists() else {}
    from medassist.model.embed import load_embedder
    from medassist.model.engine import load_engine

    engine = load_engine(args.model_path, threads=args.threads)
    embedder = load_embedder()
    model = f"{engine.info.name} · {engine.info.precision} · {engine.info.backend}"
    cfg = SummaryConfig(lang=args.lang, judge=not args.no_judge)
    engine.generate([{"role": "user", "content": "Hello"}], thinking_budget=0, max_new_tokens=4)  # warm-up
    rows = []
    for pdf in pdfs:
        print(f"summarising {pdf.name} …", flush=True)
        rows.append(score_paper(pdf, refs.get(pdf.name, {}), engine, embedder, cfg, model))
    cites = sum(r["citations"] for r in rows)
    pages = sum(r["pages"] for r in rows)
    total = {"papers": len(rows), "pages": pages, "seconds": round(sum(r["seconds"] for r in rows), 1),
             "seconds_per_page": round(sum(r["seconds"] for r in rows) / pages, 2),
             "seconds_per_10_pages": round(10 * sum(r["seconds"] for r in rows) / pages, 1),
             "numbers_not_in_pdf": sum(r["numbers_not_in_pdf"] for r in rows),
             "unsupported_citation_rate": round(sum(r["unsupported_citations"] for r in rows) / max(cites, 1), 3)}
    for f in REF_FIELD:
        vals = [r["fields"][f] for r in rows if f in r["fields"]]
        if vals:
            total[f"{f}_cosine"] = round(sum(v["cosine"] for v in vals) / len(vals), 3)
            total[f"{f}_rouge_l"] = round(sum(v["rouge_l"] for v in vals) / len(vals), 3)
    print("\n| paper | pages | s | s/page | bullets | numbers not in PDF | dropped | unsupported citations | "
          + " | ".join(f"{f[:4]} cos / R-L" for f in REF_FIELD) + " |")
    print("|---" * (8 + len(REF_FIELD)) + "|")
    for r in rows:
        sims = " | ".join(f"{r['fields'][f]['cosine']:.2f} / {r['fields'][f]['rouge_l']:.2f}" if f in r["fields"]
                          else "–" for f in REF_FIELD)
        print(f"| {r['paper'][:28]} | {r['pages']} | {r['seconds']} | {r['seconds_per_page']} | {r['bullets']} | "
              f"{r['numbers_not_in_pdf']} | {r['sentences_dropped']} | "
              f"{r['unsupported_citations']}/{r['citations']} | {sims} |")
    print(f"\nall: {json.dumps(total)}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"model": model, "lang": args.lang, "config": cfg.__dict__ | {"fields": list(cfg.fields)},
                                          "total": total, "papers": rows}, ensure_ascii=False, indent=2, default=str))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
