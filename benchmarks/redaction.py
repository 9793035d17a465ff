"""How well are identifiers removed before anything is stored? Recall per identifier type, and numbers wrongly
taken for identifiers, on MedAssist's hand-written labelled set.

    python -m benchmarks.redaction            # prints the table, writes benchmarks/results/redaction.json

The set (tests/data/redaction/): 102 clinical sentences, half Chinese, with 252 identifiers marked
[[TYPE|text]] — names, addresses, dates of birth and of care, phones, e-mails, national IDs, SSNs, record
numbers, insurance numbers, WeChat IDs, an IP address — and 101 sentences whose numbers are not identifiers
(doses, lab values, sample sizes, years, p-values, ranges, trial registrations). An identifier counts as
removed when none of its digits/letters survive: every run of 3+ digits and every name character it had
is gone from the redacted sentence. A non-identifier sentence counts as a false positive when redaction
changed it at all. The rules were written by the same people who wrote the set: the figure is an upper
bound for text unlike it; tests/test_safety.py also holds the issue's own 40 examples.
"""
from __future__ import annotations

import json
import re
import time
from collections import defaultdict

from medassist.model.paths import REPO
from medassist.store.safety import redact

DATA = REPO / "tests" / "data" / "redaction"
MARK = re.compile(r"\[\[([A-Z]+)\|(.+?)\]\]")


def load(name: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """(plain sentence, [(type, identifier text)]) for each line of a labelled file."""
    out = []
    for line in (DATA / name).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            out.append((MARK.sub(lambda m: m.group(2), line), MARK.findall(line)))
    return out


def survives(ident: str, redacted: str) -> bool:
    """Whether any identifying part of ident is still in the redacted text: a run of 3+ digits, a name or
    address word (Latin 3+ letters, capitalised) or 2+ CJK characters in a row."""
    parts = re.findall(r"\d{3,}|[A-Z][a-z]{2,}|[\u4e00-\u9fff]{2,}", ident)
    if not parts:
        parts = [ident]
    kept = [p for p in parts if p in redacted]
    # Generic words that are not identifying on their own (street types, "Dr") do not count as survivors.
    generic = {"Street", "Road", "Avenue", "Lane", "Rue", "View", "Harbour", "Church", "Fifth", "Baker", "Maple",
               "Oak", "Elm"}
    return any(p not in generic for p in kept)


def heldout_and_real(red=redact) -> dict:
    """The held-out sentences (identifiers marked by hand, never used to write rules), scored as one figure,
    and what redaction changes in 1,000 real PubMed abstracts (no patient identifiers: every change there is
    research text redacted — a date of a study period, an address of a centre — or a false positive)."""
    from medassist.model.paths import shared_data

    held = [(t, ids) for t, ids in load("heldout.txt")]
    found = sum(not survives(i, red(t)) for t, ids in held for _, i in ids)
    total = sum(len(ids) for _, ids in held)
    missed = [(k, i, red(t)) for t, ids in held for k, i in ids if survives(i, red(t))]
    out = {"heldout_found": found, "heldout_total": total, "heldout_missed": missed}
    pq = shared_data() / "eval" / "pubmedqa_pqal_labeled.json"
    if pq.exists():
        abstracts = [" ".join(r["CONTEXTS"] + [r["LONG_ANSWER"]]) for r in json.loads(pq.read_text()).values()]
        labels = defaultdict(int)
        changed = 0
        for a in abstracts:
            r = red(a)
            if r != a:
                changed += 1
                for lab in re.findall(r"\[([A-Z]+)\]", r):
                    labels[lab] += 1 if f"[{lab}]" not in a else 0
        out |= {"pubmed_abstracts": len(abstracts), "pubmed_changed": changed, "pubmed_labels": dict(labels)}
    return out


def main() -> None:
    per = defaultdict(lambda: [0, 0])  # type -> [found, total]
    per_lang = defaultdict(lambda: [0, 0])
    misses = []
    t0 = time.perf_counter()
    for name, lang in (("identifiers_en.txt", "en"), ("identifiers_zh.txt", "zh")):
        for text, ids in load(name):
            red = redact(text)
            for kind, ident in ids:
                ok = not survives(ident, red)
                per[kind][0] += ok
                per[kind][1] += 1
                per_lang[lang][0] += ok
                per_lang[lang][1] += 1
                if not ok:
                    misses.append({"type": kind, "identifier": ident, "redacted": red})
    numbers = load("numbers.txt")
    draft = " ".join(t for f in ("identifiers_en.txt", "identifiers_zh.txt", "numbers.txt") for t, _ in load(f))
    draft = (draft * (300_000 // len(draft) + 1))[:300_000]
    t1 = time.perf_counter()
    redact(draft)
    draft_s = time.perf_counter() - t1
    changed = [{"text": t, "redacted": redact(t)} for t, _ in numbers if redact(t) != t]
    seconds = time.perf_counter() - t0
    total = sum(v[1] for v in per.values())
    found = sum(v[0] for v in per.values())
    print("| identifier type | removed | recall |\n|---|---|---|")
    for kind in sorted(per):
        f, n = per[kind]
        print(f"| {kind} | {f}/{n} | {f / n:.0%} |")
    print(f"| **all** | **{found}/{total}** | **{found / total:.1%}** |")
    for lang, (f, n) in sorted(per_lang.items()):
        print(f"| all, {lang} | {f}/{n} | {f / n:.1%} |")
    print(f"\na 300,000-character draft of these sentences: {draft_s:.2f} s")
    print(f"non-identifier sentences changed: {len(changed)}/{len(numbers)} ({len(changed) / len(numbers):.1%})")
    for m in misses:
        print("  missed", m["type"], repr(m["identifier"]), "->", m["redacted"])
    extra = heldout_and_real()
    print(f"\nheld-out sentences: {extra['heldout_found']}/{extra['heldout_total']} identifiers removed")
    for k, i, r in extra["heldout_missed"]:
        print("  held-out miss", k, repr(i), "->", r)
    if "pubmed_abstracts" in extra:
        print(f"real PubMed abstracts changed: {extra['pubmed_changed']}/{extra['pubmed_abstracts']} "
              f"({extra['pubmed_labels']})")
    for c in changed:
        print("  false positive:", c["redacted"])
    out = REPO / "benchmarks" / "results" / "redaction.json"
    out.write_text(json.dumps({"recall": {k: {"found": v[0], "total": v[1]} for k, v in sorted(per.items())},
                               "recall_all": round(found / total, 4), "identifiers": total,
                               "sentences": sum(1 for f in ("identifiers_en.txt", "identifiers_zh.txt") for _ in load(f)),
                               "false_positive_sentences": len(changed), "number_sentences": len(numbers),
                               "misses": misses, "false_positives": changed, **extra, "seconds": round(seconds, 3), "draft_300k_s": round(draft_s, 3),
                               "measured": time.strftime("%Y-%m-%d %H:%M")}, indent=2, ensure_ascii=False))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
