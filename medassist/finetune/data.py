"""Stage 1: read and validate medical chain-of-thought data.

Accepts the medical-o1-reasoning-SFT format (Question, Complex_CoT, Response) as JSON or JSONL,
chat records ({"messages": [{"role": "user", ...}, {"role": "assistant", "content": "<think>…</think>…"}]}),
or, for users who are online, a Hugging Face dataset id (FreedomIntelligence/medical-o1-reasoning-SFT,
with --hf-config en|zh|mix). Bad records are skipped with a reason; nothing usable is an error.

    python -m medassist.finetune.data ../shared/data/finetune/medical_o1_sample_en.jsonl     # prints the report
"""
from __future__ import annotations

import hashlib
import json
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


@dataclass
class Report:
    kept: int = 0
    skipped: Counter = field(default_factory=Counter)

    def __str__(self) -> str:
        why = ", ".join(f"{n} {reason}" for reason, n in self.skipped.most_common())
        return f"kept {self.kept}, skipped {sum(self.skipped.values())}" + (f" ({why})" if why else "")


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
    report.kept = len(out)
    if not out:
        raise DataError(f"{source}: no usable records ({report})")
    return out, report


def split(examples: list[Example], val_fraction: float = 0.1) -> tuple[list[Example], list[Example]]:
    """Deterministic split by a hash of the question, so it never changes between runs."""
    def is_val(ex):
        return int(hashlib.sha256(ex.question.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < val_fraction

    val = [e for e in examples if is_val(e)]
    train = [e for e in examples if not is_val(e)]
    if not val and len(train) > 1:
        val = [train.pop()]
    return train, val


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    try:
        ex, rep = load(sys.argv[1])
    except DataError as e:
        sys.exit(f"error: {e}")
    tr, va = split(ex)
    print(f"{rep}; train {len(tr)}, validation {len(va)}")


if __name__ == "__main__":
    main()
