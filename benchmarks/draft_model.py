"""Could the bundled 0.5B, drafting for the 1.5B, make Q&A decode faster on this CPU? Measured parts, no guess.

    python -m benchmarks.draft_model                  # the default model and the 0.5B base's ONNX build
    python -m benchmarks.draft_model --questions 6 --tokens 200

Speculative decoding: the small model proposes k tokens, the large one reads them in one pass and keeps the run
it agrees with, plus one of its own. Its speed is set by three numbers, each measured here side by side:
  t1      the 1.5B's time for one token (one-token pass, as in decode)
  t(k+1)  the 1.5B's time to read k+1 tokens in one pass (the verify pass)
  d       the 0.5B's time for one token
and the acceptance rate a: how often the 0.5B's greedy next token equals the token the 1.5B wrote, read along
the 1.5B's own greedy answers to clinical questions (app system prompt, reasoning on). With a per-token
acceptance a, a round keeps (1 - a^(k+1)) / (1 - a) tokens and costs k*d + t(k+1), so
    speed-up(k) = (1 - a^(k+1)) / (1 - a) / (k*d + t(k+1)) * t1.
Greedy acceptance is an upper bound for the app's sampled answers (T 0.6). Prints a table and writes
benchmarks/results/draft_model.json.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from medassist.model.paths import REPO

QUESTIONS = [
    "A 58-year-old man has crushing chest pain for 40 minutes, sweating and ST elevation in II, III and aVF. "
    "What is the diagnosis and the first management steps?",
    "A 24-year-old woman has fever, dysuria and flank pain. Which investigations and antibiotics are appropriate?",
    "What are the causes of a raised anion gap metabolic acidosis, and how do you tell them apart?",
    "A 70-year-old on warfarin has an INR of 9 and no bleeding. How should this be managed?",
    "How do you distinguish type 1 from type 2 diabetes in a newly diagnosed 30-year-old?",
    "A child has a barking cough, stridor at rest and a low-grade fever. What is the likely diagnosis and treatment?",
]


def timed(fn, n: int = 5) -> float:
    fn()  # warm
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return float(np.median(out))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draft", default="qwen2.5-coder-0.5b", help="the draft model's name (built ONNX)")
    ap.add_argument("--questions", type=int, default=4)
    ap.add_argument("--tokens", type=int, default=160, help="greedy tokens of the 1.5B's answer per question")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "draft_model.json"))
    a = ap.parse_args(argv)
    from medassist.model import chat
    from medassist.model.engine import load_engine
    from medassist.model.registry import resolve_model

    try:
        draft = load_engine(str(resolve_model(a.draft)))
    except FileNotFoundError as e:
        print(f"skipped: {e} (python -m medassist.model build --base {a.draft})")
        return
    target = load_engine()
    for e in (target, draft):
        e.speculative, e.reuse_kv = False, False  # plain one-token passes: what the app's sampled Q&A runs
    agree = total = 0
    for q in QUESTIONS[: a.questions]:
        msgs = [{"role": "user", "content": q}]
        answer = target.generate(msgs, system=chat.system_prompt("en"), temperature=0.0, repetition_penalty=1.0,
                                 thinking_budget=a.tokens, max_new_tokens=a.tokens)
        prompt = target.encode(target.render(msgs, system=chat.system_prompt("en")))
        written = target.encode(answer.thinking + answer.answer)[: a.tokens]
        s = draft.new_session(len(prompt) + len(written) + 8)
        s.feed(prompt)
        for tok in written:  # the draft reads the 1.5B's answer and guesses each next token
            agree += int(np.argmax(s.logits())) == tok
            total += 1
            s.feed([tok])
    acc = agree / max(total, 1)
    ctx = target.encode(chat.system_prompt("en") + " " + QUESTIONS[0]) * 2
    ts = target.new_session(len(ctx) + 64)
    ds = draft.new_session(len(ctx) + 64)
    ts.feed(ctx)
    ds.feed(ctx)

    def pass_of(session, n):
        def run():
            session.feed(ctx[:n])
            session.rewind(len(ctx))
        return run
    t = {n: timed(pass_of(ts, n)) for n in range(1, 8)}
    d = timed(pass_of(ds, 1))
    rows = []
    for k in range(1, 7):
        kept = (1 - acc ** (k + 1)) / (1 - acc) if acc < 1 else k + 1
        rows.append({"k": k, "tokens_per_round": round(kept, 2), "round_s": round(k * d + t[k + 1], 4),
                     "speedup": round(kept / (k * d + t[k + 1]) * t[1], 2)})
    print(f"\n1.5B one token {t[1] * 1000:.0f} ms ({1 / t[1]:.1f} tok/s); 0.5B one token {d * 1000:.0f} ms "
          f"({1 / d:.1f} tok/s); verify passes: " + ", ".join(f"{n}: {t[n] * 1000:.0f} ms" for n in range(2, 8)))
    print(f"acceptance (0.5B's greedy token = the 1.5B's, {total} tokens of {a.questions} answers): {acc:.1%}\n")
    print("| drafted k | tokens kept per round | round (ms) | speed-up vs plain decode |\n| --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['k']} | {r['tokens_per_round']} | {r['round_s'] * 1000:.0f} | {r['speedup']}x |")
    Path(a.out).write_text(json.dumps({"target": target.info.name, "draft": draft.info.name, "acceptance": acc,
                                       "tokens": total, "t_ms": {n: round(v * 1000, 1) for n, v in t.items()},
                                       "draft_ms": round(d * 1000, 1), "rows": rows}, indent=1))
    print(f"\nwrote {a.out}")


if __name__ == "__main__":
    main()
