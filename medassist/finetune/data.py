"""Stage 1: read and validate medical chain-of-thought data.

Accepts the medical-o1-reasoning-SFT format (Question, Complex_CoT, Response) as JSON or JSONL,
chat records ({"messages": [{"role": "user", ...}, {"role": "assistant", "content": "<think>…</think>…"}]}),
or, for users who are online, a Hugging Face dataset id (FreedomIntelligence/medical-o1-reasoning-SFT,
with --hf-config en|zh|mix). Bad records are skipped with a reason; nothing usable is an error. The report
gives the language mix (a question with Chinese characters is Chinese), and the validation split keeps every
language, so the trainer reports a validation loss per language.

    medassist-data ../shared/data/finetune/medical_o1_sample_en.jsonl     # prints the report
    medassist-data train.jsonl --eval ../shared/data/eval/*.jsonl          # and training records that repeat exam items
"""
from __future__ import annotations

import hashlib
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from medassist.model.thinking import split as split_thinking


@dataclass
class Example:
    question: str
    reasoning: str
    answer: str

    @property
    def lang(self) -> str:
        return "zh" if re.search(r"[\u4e00-\u9fff]", self.question) else "en"


@dataclass
class Report:
    kept: int = 0
    skipped: Counter = field(default_factory=Counter)
    languages: Counter = field(default_factory=Counter)

    def __str__(self) -> str:
        why = ", ".join(f"{n} {reason}" for reason, n in self.skipped.most_common())
        mix = ", ".join(f"{lang} {n}" for lang, n in sorted(self.languages.items()))
        return (f"kept {self.kept}, skipped {sum(self.skipped.values())}" + (f" ({why})" if why else "")
                + (f"; languages: {mix}" if mix else ""))


class DataError(ValueError):
    pass


def _from_record(r) -> Example | str:
    """An Example, or the reason the record is unusable."""
    if not isinstance(r, dict):
        return "not an object"
    if "messages" in r:
        msgs = r["messages"]
        if not isinstance(msgs, list) or not all(isinstance(m, dict) for m in msgs):
            return "messages is not a list of objects"
        user = next((m.get("content") for m in msgs if m.get("role") == "user"), None)
        bot = next((m.get("content") for m in msgs if m.get("role") == "assistant"), None)
        if not isinstance(user, str) or not isinstance(bot, str):
            return "messages lack a user or assistant text"
        reasoning, answer = split_thinking(bot, prefilled=False)
        q = user
    else:
        q, reasoning, answer = r.get("Question"), r.get("Complex_CoT"), r.get("Response")
        if q is None or reasoning is None or answer is None:
            return "missing Question/Complex_CoT/Response"
        if not all(isinstance(x, str) for x in (q, reasoning, answer)):
            return "a field is not text"
    if not q.strip() or not reasoning.strip() or not answer.strip():
        return "an empty field"
    if "\ufffd" in q + reasoning + answer:
        return "bad encoding"
    return Example(q.strip(), reasoning.strip(), answer.strip())


def _raw_records(source: str, hf_config: str) -> tuple[list, Counter]:
    bad = Counter()
    path = Path(source)
    if not path.exists():
        if "/" in source and not source.startswith((".", "/")):
            from datasets import load_dataset  # online users only

            return list(load_dataset(source, hf_config, split="train")), bad
        raise DataError(f"{source}: no such file")
    raw = path.read_bytes()
    if path.suffix == ".json":
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise DataError(f"{source}: not valid UTF-8 JSON ({e})") from None
        return (data if isinstance(data, list) else [data]), bad
    records = []
    for line in raw.split(b"\n"):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line.decode("utf-8")))
        except UnicodeDecodeError:
            bad["bad encoding"] += 1
        except json.JSONDecodeError:
            bad["malformed JSON"] += 1
    return records, bad


def load(source: str, hf_config: str = "en") -> tuple[list[Example], Report]:
    records, skipped = _raw_records(source, hf_config)
    report, seen, out = Report(skipped=skipped), set(), []
    for r in records:
        ex = _from_record(r)
        if isinstance(ex, str):
            report.skipped[ex] += 1
            continue
        key = " ".join(ex.question.lower().split())
        if key in seen:
            report.skipped["duplicate question"] += 1
            continue
        seen.add(key)
        out.append(ex)
        report.languages[ex.lang] += 1
    report.kept = len(out)
    if not out:
        raise DataError(f"{source}: no usable records ({report})")
    return out, report


def split(examples: list[Example], val_fraction: float = 0.1) -> tuple[list[Example], list[Example]]:
    """Deterministic split by a hash of the question, so it never changes between runs; every language with two
    examples or more keeps at least one for validation."""
    def is_val(ex):
        return int(hashlib.sha256(ex.question.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < val_fraction

    val = [e for e in examples if is_val(e)]
    train = [e for e in examples if not is_val(e)]
    for lang in sorted({e.lang for e in train} - {e.lang for e in val}):
        mine = [e for e in train if e.lang == lang]
        if len(mine) > 1:  # the last of its language in file order: still deterministic
            train.remove(mine[-1])
            val.append(mine[-1])
    return train, val


def _words(text: str) -> list[str]:
    """Lower-case words; each Chinese character counts as a word."""
    return re.findall(r"[a-z0-9]+|[\u4e00-\u9fff]", text.lower())


def overlaps(examples: list[Example], eval_files: list[str], near: float = 0.8) -> list[dict]:
    """Training questions that repeat an evaluation item: the same words, or a word-trigram Jaccard of `near` or
    more (a copied stem with its options reworded). An exam scored on what was trained on says nothing."""
    grams = lambda ws: {tuple(ws[i:i + 3]) for i in range(max(1, len(ws) - 2))}  # noqa: E731
    train = [(i, grams(_words(e.question))) for i, e in enumerate(examples)]
    index: dict = {}
    for i, g in train:
        for x in g:
            index.setdefault(x, []).append(i)
    found = []
    for path in eval_files:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            item = json.loads(line) if line.strip() else None
            text = (item or {}).get("problem_text") or (item or {}).get("question") or ""
            g = grams(_words(text))
            if not text or not g:
                continue
            for i in {i for x in g for i in index.get(x, ())}:
                jac = len(g & train[i][1]) / len(g | train[i][1])
                if jac >= near:
                    found.append({"train": i, "eval_file": Path(path).name, "eval_id": item.get("problem_id"),
                                  "similarity": round(jac, 3), "question": examples[i].question[:120]})
    return found


def main(argv=None) -> None:
    import argparse

    ap = argparse.ArgumentParser(description="Validate fine-tuning data: what is kept, what is skipped and why.")
    ap.add_argument("source", help="a JSON/JSONL file, or a Hugging Face dataset id (online)")
    ap.add_argument("--hf-config", default="en", help="the dataset's config for a Hub id: en, zh or mix")
    ap.add_argument("--val-fraction", type=float, default=0.1)
    ap.add_argument("--eval", nargs="*", default=[], help="evaluation files (JSONL): warn about training "
                                                           "records that repeat their items")
    a = ap.parse_args(argv)
    try:
        ex, rep = load(a.source, a.hf_config)
    except DataError as e:
        sys.exit(f"error: {e}")
    tr, va = split(ex, a.val_fraction)
    langs = Counter(e.lang for e in va)
    print(f"{rep}; train {len(tr)}, validation {len(va)}"
          + (f" ({', '.join(f'{k} {n}' for k, n in sorted(langs.items()))})" if len(langs) > 1 else ""))
    if a.eval:
        found = overlaps(ex, a.eval)
        print(f"{len(found)} training record(s) repeat evaluation items" + (":" if found else " (exact or near)"))
        for f in found[:20]:
            print(f"  WARNING record {f['train']} ~ {f['eval_file']} {f['eval_id']} ({f['similarity']:.0%}): "
                  f"{f['question']}")


if __name__ == "__main__":
    main()
