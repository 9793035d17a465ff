"""Multiple-choice evaluation of an engine (PyTorch or ONNX) on JSONL exams.

    python -m medassist.evals.evaluate --data ../shared/data/eval/medmcqa_dev.jsonl --engine onnx --limit 300
    python -m medassist.evals.evaluate --data FILE.jsonl --engine torch --model-path HF_FOLDER --mode generate
    python -m medassist.evals.evaluate --data FILE.jsonl --engine torch --adapter ADAPTER   # a fine-tune, unbuilt

Items: problem_text, choices (option i is letter A, B, ...), answer (list of correct letters);
PubMedQA's `context` is put before the question. Modes:
  loglik    score each option letter after the prompt (one forward pass per item)
  generate  reason with a thinking budget (greedy unless --temperature), then extract the final letter;
            also reports format compliance (reasoning closed by the model itself, one final answer),
            what closed each chain (model | loop guard | budget) and reasoning length
Accuracy levers: --shots K puts K solved exemplars (the file's last K items, never evaluated) before
the question; --samples N (generate) samples N reasoning chains at --temperature (default 0.6) and
takes the majority letter (self-consistency); --no-loop-guard lets looping reasoning run to the budget;
--repetition-penalty P (>1) makes tokens already in the sequence less likely (against loops).
Time per question is in the summary, to weigh each lever.
Prints accuracy with a 95% Wilson interval; writes per-item results as JSONL (one line per item as it
is scored) and a summary JSON. --resume keeps the items already in --out and scores only the rest.
"""
from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from medassist.evals import mcq as P
from medassist.model.chat import question_language, system_prompt
from medassist.model.defaults import EXAM, QA


def system_for(msgs: list[dict]) -> str:
    """MedAssist's system prompt in the question's language, as the app asks (the exam tables used it)."""
    return system_prompt(question_language(msgs))

LETTERS = "ABCDEFGHIJ"


def load_items(path: str | Path, limit: int | None = None) -> list[dict]:
    items = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
                q, choices, answer = r["problem_text"], r["choices"], r["answer"]
            except (json.JSONDecodeError, KeyError) as e:
                raise ValueError(f"{path}:{n}: not an exam item ({e})") from None
            answer = [a.upper() for a in (answer if isinstance(answer, list) else [answer])]
            if r.get("context"):
                ctx = r["context"] if isinstance(r["context"], str) else " ".join(r["context"])
                q = f"Context: {ctx}\n\nQuestion: {q}"
            items.append({"id": r.get("problem_id", n), "question": q, "choices": choices, "answer": answer})
            if limit and len(items) >= limit:
                break
    return items


def with_shots(path: str | Path, limit: int | None, k: int) -> tuple[list[dict], list[dict]]:
    """(items to evaluate, k exemplars): the exemplars are the file's last k items, never evaluated."""
    if k <= 0:
        return load_items(path, limit), []
    items = load_items(path)
    if len(items) <= k:
        raise ValueError(f"{path}: {len(items)} items, too few for {k} exemplars and a question")
    return items[:-k][:limit] if limit else items[:-k], items[-k:]


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (0.0, 0.0)
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (c - h, c + h)


def extract_letter(text: str, n_choices: int, choices: list[str] | None = None) -> str | None:
    """The final answer letter in a model's answer, or None. Later, more explicit statements win."""
    valid = LETTERS[:n_choices]
    t = text.strip()
    patterns = [
        rf"(?:answer|option|choice)\s*(?:is\s*[:：]?|[:：])?\s*(?:\*\*)?\(?([{valid}])\)?(?![A-Za-z])",
        rf"(?:答案|选项|选)\s*(?:是|为|:|：)?\s*\(?([{valid}])\)?",
        rf"\*\*\(?([{valid}])\)?[.):]?",
        rf"^\(?([{valid}])\)?[.):]?(?:\s|$)",
        rf"\(([{valid}])\)",
    ]
    for pat in patterns:
        hits = re.findall(pat, t, flags=re.IGNORECASE | re.MULTILINE)
        if hits:
            return hits[-1].upper()
    if re.fullmatch(rf"\(?([{valid}])\)?\.?", t, flags=re.IGNORECASE):
        return t.strip("().").upper()
    if choices:  # the answer quotes exactly one option's text
        return quoted_choice(t, choices)
    return None


def _words(text: str) -> str:
    """Lower-case words separated by single spaces, padded, so "Non-phasic" matches "non phasic"."""
    return " " + " ".join(re.findall(r"[^\W_]+", text.lower())) + " "


def quoted_choice(text: str, choices: list[str]) -> str | None:
    """The letter of the one option whose words the text quotes (whole words only). An option quoted
    only inside a longer quoted option ("hypertension" in "pulmonary hypertension") does not count."""
    t = _words(text)
    words = {i: _words(c) for i, c in enumerate(choices) if c}
    found = {i: w for i, w in words.items() if w.strip() and w in t}
    found = [i for i, w in found.items() if not any(j != i and w in v for j, v in found.items())]
    return LETTERS[found[0]] if len(found) == 1 else None


def score_loglik(engine, item: dict, shots: list[dict] = ()) -> dict:
    msgs = P.mcq_messages(item["question"], item["choices"], shots)
    scores = engine.letter_scores(msgs, LETTERS[:len(item["choices"])], system=system_for(msgs))
    pred = LETTERS[int(np.argmax(scores))]
    return {"pred": pred, "scores": [round(float(x), 3) for x in scores]}


def vote(letters: list[str | None]) -> str | None:
    """The majority letter among chains that gave one; a tie goes to the letter given first."""
    counts = Counter(x for x in letters if x)
    if not counts:
        return None
    best = max(counts.values())
    return next(x for x in letters if x and counts[x] == best)


def score_generate(engine, item: dict, budget: int, max_new_tokens: int, shots: list[dict] = (),
                   samples: int = 1, temperature: float = EXAM.temperature, seed: int = 0,
                   loop_guard: bool = EXAM.loop_guard, repetition_penalty: float = EXAM.repetition_penalty) -> dict:
    msgs = P.mcq_messages(item["question"], item["choices"], shots)
    chains = []
    for i in range(samples):
        # temperature 0 is greedy; sampled chains each get their own seed (and, when several, vote).
        kw = {"temperature": 0} if temperature <= 0 else {"temperature": temperature, "top_p": EXAM.top_p, "seed": seed + i}
        r = engine.generate(msgs, system=system_for(msgs), thinking_budget=budget, max_new_tokens=max_new_tokens, loop_guard=loop_guard,
                            repetition_penalty=repetition_penalty, **kw)
        letter = extract_letter(r.answer, len(item["choices"]), item["choices"])
        n_reasoning = engine.count_tokens(r.thinking)
        closed = bool(r.thinking) and r.think_end == "model"  # the model closed its reasoning itself
        chains.append((letter, n_reasoning, closed and letter is not None, r.answer[-400:], r.think_end))
    letters = [c[0] for c in chains]
    out = {"pred": vote(letters), "answer_text": chains[0][3],
           "reasoning_tokens": sum(c[1] for c in chains) / samples,
           "compliant": sum(c[2] for c in chains) / samples,  # the share of this item's chains in format
           "think_end": [c[4] for c in chains]}
    if samples > 1:
        out["votes"] = letters
    return out


def evaluate(engine, items: list[dict], mode: str = "loglik", budget: int = EXAM.thinking_budget,
             max_new_tokens: int = EXAM.max_new_tokens, out: Path | None = None, progress: bool = True,
             shots: list[dict] = (), samples: int = 1, temperature: float = EXAM.temperature,
             loop_guard: bool = EXAM.loop_guard, repetition_penalty: float = EXAM.repetition_penalty,
             resume: bool = False) -> dict:
    """Score every item; per-item rows go to `out` as they come. With resume, rows already in `out`
    (matched by item id) are kept and only the rest are scored, so an interrupted run, or a larger
    sample of the same setting, costs only the new items. The caller must not resume across settings."""
    from tqdm import tqdm

    done = {}
    if resume and out and Path(out).exists():
        for line in Path(out).read_text(encoding="utf-8").splitlines():
            try:
                r = json.loads(line)
                done[str(r["id"])] = r
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # a line cut short by the interruption: that item is scored again
    # Append while running, so an interruption loses at most the item being scored.
    fh = None
    if out:
        fh = open(out, "a" if done else "w", encoding="utf-8")
        if done:
            fh.write("\n")  # the old file may end inside a cut-short line
    rows = []
    for item in tqdm(items, disable=not progress, desc=f"eval {mode}"):
        r = done.get(str(item["id"]))
        if r is None:
            t = time.time()
            r = (score_loglik(engine, item, shots) if mode == "loglik" else
                 score_generate(engine, item, budget, max_new_tokens, shots, samples, temperature,
                                loop_guard=loop_guard, repetition_penalty=repetition_penalty))
            r.update(id=item["id"], gold=item["answer"], correct=r["pred"] in item["answer"],
                     seconds=round(time.time() - t, 2))
            if fh:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
                fh.flush()
        rows.append(r)
    if fh:
        fh.close()
        if done:  # finally one row per item, in item order
            tmp = Path(out).with_suffix(".tmp")
            tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
            tmp.replace(out)
    n = len(rows)
    correct = sum(bool(r["correct"]) for r in rows)
    lo, hi = wilson(correct, n)
    # Time per item from the rows themselves, so resumed items keep the time they took when scored.
    summary = {"mode": mode, "n": n, "accuracy": correct / n if n else 0.0, "ci95": [lo, hi], "shots": len(shots),
               "seconds_per_item": sum(r["seconds"] for r in rows) / max(n, 1),
               "resumed": sum(str(i["id"]) in done for i in items), "engine": engine.info.__dict__ | {"extra": None}}
    if mode == "generate":
        summary.update(thinking_budget=budget, samples=samples, temperature=max(temperature, 0.0),
                       loop_guard=loop_guard, repetition_penalty=repetition_penalty)
        summary["format_compliance"] = sum(r["compliant"] for r in rows) / max(n, 1)
        summary["think_end"] = dict(Counter(e for r in rows for e in r["think_end"]))
        summary["mean_reasoning_tokens"] = sum(r["reasoning_tokens"] for r in rows) / max(n, 1)
    return summary


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="Evaluate an engine on multiple-choice JSONL.")
    ap.add_argument("--data", required=True)
    ap.add_argument("--engine", choices=["torch", "onnx"], default="onnx")
    ap.add_argument("--model-path", default=None, help="model folder (default: the built default model)")
    ap.add_argument("--precision", default=None)
    ap.add_argument("--adapter", default=None, help="torch: a PEFT adapter folder read beside the base (--model-path, "
                    "or the base its adapter_config.json names); prefix tuning, which cannot be merged, included")
    ap.add_argument("--mode", choices=["loglik", "generate"], default="loglik")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--thinking-budget", type=int, default=EXAM.thinking_budget)
    ap.add_argument("--max-new-tokens", type=int, default=EXAM.max_new_tokens)
    ap.add_argument("--shots", type=int, default=0, help="few-shot exemplars: the file's last K items")
    ap.add_argument("--samples", type=int, default=1, help="generate: chains per question, majority vote")
    ap.add_argument("--temperature", type=float, default=None,
                    help="generate: sampling temperature (default: greedy for one chain, the app's for several)")
    ap.add_argument("--no-loop-guard", action="store_true", help="generate: let looping reasoning run to the budget")
    ap.add_argument("--repetition-penalty", type=float, default=EXAM.repetition_penalty,
                    help="generate: >1 makes tokens already in the sequence less likely (1 = off)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", default=None, help="per-item JSONL (summary goes beside it as .summary.json)")
    ap.add_argument("--resume", action="store_true",
                    help="keep the items already in --out and score only the rest (same settings only)")
    args = ap.parse_args(argv)
    from medassist.model.engine import load_engine

    try:
        items, shots = with_shots(args.data, args.limit, args.shots)
        engine = load_engine(args.model_path, backend=args.engine, precision=args.precision, threads=args.threads,
                             adapter=args.adapter)
        engine.reuse_kv = False  # every item read whole: the table does not depend on the items' order
    except (ValueError, FileNotFoundError) as e:
        sys.exit(f"error: {e}")
    out = Path(args.out) if args.out else None
    summary = evaluate(engine, items, args.mode, args.thinking_budget, args.max_new_tokens, out,
                       shots=shots, samples=args.samples, loop_guard=not args.no_loop_guard,
                       repetition_penalty=args.repetition_penalty, resume=args.resume,
                       temperature=args.temperature if args.temperature is not None else QA.temperature * (args.samples > 1))
    summary["data"] = args.data
    lo, hi = summary["ci95"]
    print(f"{Path(args.data).name}: accuracy {summary['accuracy']:.1%} (95% CI {lo:.1%}–{hi:.1%}), n={summary['n']}, "
          f"{summary['seconds_per_item']:.2f} s/item" + (f", format compliance {summary['format_compliance']:.0%}, "
                                                         f"reasoning {summary['mean_reasoning_tokens']:.0f} tokens"
                                                         if args.mode == "generate" else ""))
    if out:
        out.with_suffix(".summary.json").write_text(json.dumps(summary, indent=2, default=str))


if __name__ == "__main__":
    main()
