"""How well Q&A's sources are found: recall@5 and MRR on a judged set, lexical vs dense vs hybrid, side by side.

    python -m benchmarks.retrieval                      # prints a table, writes benchmarks/results/retrieval.json

The judged set (benchmarks/labels/retrieval.tsv) holds questions written for this benchmark — paraphrases,
abbreviations ("MI", "DVT") and Chinese versions, never an entry's own question text — each with the focus and
question type of the MedQuAD entries that answer it (any NIH source). A question counts as found at 5 when one
of the first five distinct entries is right; MRR over the first ten. "hybrid" is what Q&A uses (cosine + beta x
normalised BM25), "rrf" reciprocal-rank fusion of the same two rankings; the beta rows show the fusion weights
were chosen on this set; "held out" rows score questions written afterwards (retrieval_heldout.tsv), once. Rows "no term list" switch the bilingual
term list and the mined abbreviations off, to show what they give. Latency: median and p95 per query (warm).
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from medassist.model.embed import load_embedder
from medassist.model.paths import data_dir
from medassist.papers.reference import Reference
from medassist.papers.search import Terms

LABELS = Path(__file__).parent / "labels" / "retrieval.tsv"
HELD_OUT = Path(__file__).parent / "labels" / "retrieval_heldout.tsv"  # written after the weights were chosen
OUT = Path(__file__).parent / "results" / "retrieval.json"


def load_labels(path: Path = LABELS) -> list[dict]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            q, focus, qtype, style = line.split("\t")
            out.append({"question": q, "focus": focus.lower(), "qtype": qtype, "style": style})
    return out


def score(ref: Reference, labels: list[dict], mode: str) -> dict:
    found, rr, times, by_style = 0, 0.0, [], {}
    for item in labels:
        started = time.perf_counter()
        entries = ref.rank_entries(item["question"], mode=mode, k=10)
        times.append(time.perf_counter() - started)
        rank = next((i + 1 for i, e in enumerate(entries)
                     if ref.entry_key(e)[1].lower() == item["focus"] and ref.entry_key(e)[2] == item["qtype"]), None)
        hit = rank is not None and rank <= 5
        found += hit
        rr += 1.0 / rank if rank else 0.0
        s = by_style.setdefault(item["style"], [0, 0])
        s[0] += hit
        s[1] += 1
    times.sort()
    return {"recall@5": found / len(labels), "mrr@10": rr / len(labels),
            "by_style": {k: round(v[0] / v[1], 3) for k, v in by_style.items()},
            "median_ms": 1000 * statistics.median(times), "p95_ms": 1000 * times[int(0.95 * (len(times) - 1))]}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", type=Path, default=None, help="the index folder (default: the data folder's reference/)")
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args(argv)
    ref = Reference(a.index or data_dir() / "reference", load_embedder)
    started = time.perf_counter()
    ref.build(lambda f, s: print(f"\r{f:4.0%} {s}".ljust(60), end="", flush=True))
    print(f"\nindex ready in {time.perf_counter() - started:.1f} s")
    labels = load_labels()
    ref.dense("warm up")  # the embedder's first call is slow; not a query's cost
    rows = {}
    for mode in ("lexical", "dense", "hybrid", "rrf"):
        rows[mode] = score(ref, labels, mode)
    shipped = ref.beta, ref.beta_rare
    for beta in (0.1, 0.3, 0.5):  # the fusion weight (the shipped ones: reference.HYBRID_BETA, RARE_BETA)
        ref.beta = ref.beta_rare = beta
        rows[f"hybrid, beta {beta} for every question"] = score(ref, labels, "hybrid")
    ref.beta, ref.beta_rare = shipped[0], shipped[0]
    rows[f"hybrid, beta {shipped[0]} even for rare terms"] = score(ref, labels, "hybrid")
    ref.beta, ref.beta_rare = shipped
    terms = ref.terms
    ref.terms = Terms()  # no term list, no mined abbreviations
    for mode in ("lexical", "hybrid"):
        rows[f"{mode}, no term list"] = score(ref, labels, mode)
    ref.terms = terms
    held_out = load_labels(HELD_OUT)
    for mode in ("lexical", "dense", "hybrid"):
        rows[f"held out: {mode}"] = score(ref, held_out, mode)
    styles = sorted({item["style"] for item in labels})
    n = {s: sum(i["style"] == s for i in labels) for s in styles}
    print(f"\n{len(labels)} judged questions ({', '.join(f'{n[s]} {s}' for s in styles)}); held out: "
          f"{len(held_out)}, 8 of each style\n")
    head = "| search | recall@5 | MRR@10 | " + " | ".join(f"{s} @5" for s in styles) + " | median ms | p95 ms |"
    print(head + "\n|" + " --- |" * (head.count("|") - 1))
    for name, r in rows.items():
        print(f"| {name} | {r['recall@5']:.1%} | {r['mrr@10']:.3f} | "
              + " | ".join(f"{r['by_style'].get(s, 0):.0%}" for s in styles)
              + f" | {r['median_ms']:.0f} | {r['p95_ms']:.0f} |")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"questions": len(labels), "held_out": len(held_out), "by_style": n, "rows": rows},
                                indent=1), encoding="utf-8")
    print(f"\nwrote {a.out}")


if __name__ == "__main__":
    main()
