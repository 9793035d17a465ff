"""The support checks on labelled sentence-passage pairs: does the check keep what the passage states and catch
what it does not (contradicted, or on topic but unstated)?

    python -m benchmarks.support_check [--model NAME] [--limit N]

Labels: benchmarks/labels/support.tsv (169 pairs written for this project against PubMedQA abstracts' results;
passages read from ../shared/data/eval/pubmedqa_pqal_labeled.json; skipped cleanly when it is absent). Checks,
side by side on the same pairs:
- cosine: MiniLM cosine of the sentence to the passage (best of its ~600-character pieces) >= 0.45 — the check
  the summaries and Q&A used before;
- cosine | words: the Q&A rule (cosine, or 75% of the sentence's content words in the passage);
- judge: the model reads the passage and the sentence and scores (A) stated / (B) not (papers/support.py);
- cosine & judge: both.
The judge's threshold (papers/support.JUDGE_MIN) was chosen on the tuning half (passages with pmid < 20000000) and reported on the held-out
half too. "Flag" = the check says not supported; precision/recall are for flagging C+U pairs. Prints a table,
writes benchmarks/results/support_check.json.
"""
from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np

from medassist.model.paths import shared_data
from medassist.papers.passages import chunk_sentences
from medassist.papers.summarize import content_words

LABELS = Path(__file__).parent / "labels" / "support.tsv"
OUT = Path(__file__).parent / "results" / "support_check.json"
COSINE = 0.45


def load_pairs(limit: int | None = None) -> list[dict]:
    src = shared_data() / "eval" / "pubmedqa_pqal_labeled.json"
    if not src.exists():
        raise SystemExit(f"{src} not found: the labelled pairs' passages live there; skipped")
    abstracts = json.loads(src.read_text(encoding="utf-8"))
    rows = [r for r in csv.DictReader((line for line in LABELS.read_text(encoding="utf-8").splitlines()
                                       if not line.startswith("#")), delimiter="\t")]
    pairs = [{**r, "passage": abstracts[r["pmid"]]["CONTEXTS"][int(r["ctx"])],
              "half": "tune" if int(r["pmid"]) < 20000000 else "held"} for r in rows]
    return pairs[:limit] if limit else pairs


def scores(flag: list[bool], truth: list[bool]) -> dict:
    """Precision/recall of flagging (truth: the pair is not supported), and the share of supported pairs kept."""
    tp = sum(f and t for f, t in zip(flag, truth))
    fp = sum(f and not t for f, t in zip(flag, truth))
    fn = sum(t and not f for f, t in zip(flag, truth))
    kept = sum(not f and not t for f, t in zip(flag, truth)) / max(1, sum(not t for t in truth))
    p, r = tp / max(1, tp + fp), tp / max(1, tp + fn)
    return {"precision": round(p, 3), "recall": round(r, 3), "f1": round(2 * p * r / max(p + r, 1e-9), 3),
            "supported_kept": round(kept, 3), "accuracy": round(sum(f == t for f, t in zip(flag, truth)) / len(truth), 3)}


def best_threshold(margins: np.ndarray, truth: list[bool]) -> float:
    """The judge threshold with the best balanced accuracy (supported kept + unsupported flagged, halved) on
    these pairs: F1 on flagging would trade away true sentences, which a reader loses."""
    def balanced(t):
        r = scores(list(margins < t), truth)
        return (r["supported_kept"] + r["recall"]) / 2
    return max(sorted(set(np.round(margins, 2))), key=lambda t: (balanced(t), -abs(t)))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args(argv)
    from medassist.model.embed import load_embedder
    from medassist.model.engine import load_engine
    from medassist.papers.support import JUDGE_MIN, margins

    pairs = load_pairs(a.limit)
    emb = load_embedder()
    engine = load_engine(name=a.model)
    t0 = time.perf_counter()
    for p in pairs:
        pieces = chunk_sentences(p["passage"])
        p["cosine"] = round(float((emb.encode([p["claim"]]) @ emb.encode(pieces).T).max()), 3)
        words = content_words(p["claim"])
        p["words"] = len(words) >= 4 and len(words & content_words(p["passage"])) >= 0.75 * len(words)
    seconds = {"cosine": (time.perf_counter() - t0) / len(pairs)}
    t0 = time.perf_counter()  # all pairs in one call: each passage (and the instructions) read once
    for p, m in zip(pairs, margins(engine, [(p["passage"], p["claim"]) for p in pairs])):
        p["margin"] = round(m, 3)
    seconds["judge"] = (time.perf_counter() - t0) / len(pairs)
    tune = [p for p in pairs if p["half"] == "tune"]
    thr = best_threshold(np.array([p["margin"] for p in tune]), [p["label"] != "S" for p in tune])
    checks = {
        "cosine >= 0.45 (before)": lambda p: p["cosine"] < COSINE,
        "cosine | 75% words (Q&A before)": lambda p: p["cosine"] < COSINE and not p["words"],
        f"judge (margin >= {thr}, tuned here)": lambda p: p["margin"] < thr,
        f"judge (margin >= {JUDGE_MIN}, the app's)": lambda p: p["margin"] < JUDGE_MIN,
        "cosine & judge": lambda p: p["cosine"] < COSINE or p["margin"] < JUDGE_MIN,
    }
    rows = {}
    for half in ("tune", "held", "all"):
        sel = [p for p in pairs if half == "all" or p["half"] == half]
        truth = [p["label"] != "S" for p in sel]
        rows[half] = {name: scores([f(p) for p in sel], truth) for name, f in checks.items()}
        rows[half]["n"] = len(sel)
        for lab in "SCU":  # what each check does per kind of pair
            part = [p for p in sel if p["label"] == lab]
            for name, f in checks.items():
                rows[half][name][f"flagged_{lab}"] = round(sum(f(p) for p in part) / max(1, len(part)), 3)
    print(f"\njudge threshold with the best balanced accuracy on the tuning half: {thr}; seconds per pair: "
          + ", ".join(f"{k} {v:.3f}" for k, v in seconds.items()))
    for half in ("tune", "held", "all"):
        print(f"\n{half} ({rows[half]['n']} pairs)\n| check | flag precision | flag recall | F1 | supported kept "
              "| contradicted flagged | unstated flagged |\n| --- | --- | --- | --- | --- | --- | --- |")
        for name in checks:
            r = rows[half][name]
            print(f"| {name} | {r['precision']:.0%} | {r['recall']:.0%} | {r['f1']:.2f} | {r['supported_kept']:.0%} | "
                  f"{r['flagged_C']:.0%} | {r['flagged_U']:.0%} |")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"model": engine.info.name, "threshold_tuned": float(thr), "threshold_app": JUDGE_MIN, "seconds_per_pair":
                                 {k: round(v, 3) for k, v in seconds.items()}, "rows": rows,
                                 "pairs": [{k: p[k] for k in ("pmid", "label", "half", "claim", "cosine", "words",
                                                              "margin")} for p in pairs]}, indent=1), encoding="utf-8")
    print(f"\nwrote {a.out}")


if __name__ == "__main__":
    main()
