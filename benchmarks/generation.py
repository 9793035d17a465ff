"""Generation speed and memory, every backend side by side in one run, and what a user of the app feels.

    python -m benchmarks.generation                       # the model the app uses: its torch, ONNX and llama.cpp rows
    python -m benchmarks.generation --backends onnx-int8 llamacpp-q4km --repeats 5
    python -m benchmarks.generation --variant fast=/path/to/onnx_folder   # any extra ONNX folder

For each backend, in its own process (so peak RSS is its own), on the same
token ids and thread count: time to first token on a ~150-token prompt,
prefill tokens/s on a ~1,000-token prompt, decode tokens/s over 128 forced
new tokens, peak RSS, and how many of the first 64 greedy tokens equal
PyTorch's. One warm-up, then the median of --repeats. The llama.cpp row runs
the base's Q4_K_M GGUF (the fine-tuned weights exist only as HF/ONNX; same
architecture and size, so the same speed).

ONNX rows also measure the app's path (engine.stream with MedAssist's system
prompt and QA defaults, medassist/model/engine/local.py): first token of a new
chat with and without the kept KV state (warm = the system prompt read at load),
first token of a follow-up after ~500/1,000/2,000/3,200 tokens of history with
and without it, and decode at the app's sampling settings. The history is real
medical reasoning (the shared medical-o1 sample when ../shared is present).

Prints tables and writes benchmarks/results/generation.json. llama.cpp needs
the optional extra: pip install -r requirements-bench.txt.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]  # the repo: results go to benchmarks/results/


CLINICAL = (
    "A 58-year-old man with hypertension, type 2 diabetes and a 30 pack-year smoking history presents with "
    "two hours of crushing retrosternal chest pain radiating to the left arm and jaw, with sweating and nausea. "
    "Blood pressure is 150/95 mmHg, heart rate 104/min, oxygen saturation 95% on room air. The ECG shows "
    "ST elevation in leads II, III and aVF. Troponin is raised. "
)
DECODE_TOKENS = 128


def make_prompts(hf_dir: Path) -> dict:
    """Chat-templated prompts of ~150 and ~1,000 tokens, as token ids every backend shares."""
    from tokenizers import Tokenizer

    from medassist.model import chat as P

    tok = Tokenizer.from_file(str(hf_dir / "tokenizer.json"))
    template = P.load_chat_template(hf_dir)

    words = (CLINICAL * 20).split()

    def ids_for(n_target: int) -> list[int]:
        for k in range(10, len(words), 4):  # grow the case description until the prompt is long enough
            msg = [{"role": "user", "content": " ".join(words[:k]) + " What is the diagnosis and the immediate management?"}]
            ids = tok.encode(P.build_prompt(template, msg, system=None), add_special_tokens=False).ids
            if len(ids) >= n_target:
                return ids
        raise ValueError("prompt text too short")

    return {"short": ids_for(150), "long": ids_for(1000)}


# ---- workers: one backend per process -------------------------------------------------------

def _engine_session_factory(kind: str, path: str, threads: int):
    if kind == "torch":
        from medassist.model.engine.torch_engine import TorchEngine

        eng = TorchEngine(path, dtype="bfloat16", threads=threads)
    else:
        from medassist.model.engine.onnx_engine import OnnxEngine

        eng = OnnxEngine(path, threads=threads)

    def run(ids, n_new):
        t0 = time.perf_counter()
        s = eng.new_session(len(ids) + n_new + 8)  # a fresh KV state: the raw engine, nothing kept
        s.feed(ids)
        out = [int(np.argmax(s.logits()))]
        t1 = time.perf_counter()
        for _ in range(n_new - 1):
            s.feed(out[-1:])
            out.append(int(np.argmax(s.logits())))
        return out, t1 - t0, time.perf_counter() - t1

    run.engine = eng
    return run


def _llamacpp_session_factory(path: str, threads: int):
    from llama_cpp import Llama

    llm = Llama(model_path=path, n_ctx=2048, n_threads=threads, n_threads_batch=threads, n_batch=512,
                flash_attn=True, verbose=False)

    def run(ids, n_new):
        llm.reset()  # otherwise it reuses the cached prompt
        t0 = time.perf_counter()
        out, t1 = [], None
        for tok in llm.generate(ids, temp=0.0, top_k=1, top_p=1.0, repeat_penalty=1.0, reset=True):
            if t1 is None:
                t1 = time.perf_counter()
            out.append(int(tok))
            if len(out) == n_new:
                break
        return out, t1 - t0, time.perf_counter() - t1

    return run


def worker(kind: str, path: str, threads: int, prompts_file: str, repeats: int, app: bool = True) -> dict:
    prompts = json.loads(Path(prompts_file).read_text())
    t = time.perf_counter()
    run = _llamacpp_session_factory(path, threads) if kind == "llamacpp" else _engine_session_factory(kind, path, threads)
    load_s = time.perf_counter() - t
    run(prompts["short"], 4)  # warm-up
    ttft, decode, prefill = [], [], []
    tokens = None
    for _ in range(repeats):
        out, first, rest = run(prompts["short"], DECODE_TOKENS)
        tokens = tokens or out[:64]
        ttft.append(first)
        decode.append((DECODE_TOKENS - 1) / rest)
    for _ in range(repeats):
        _, first, _ = run(prompts["long"], 1)
        prefill.append(len(prompts["long"]) / first)
    out = {"load_s": load_s, "ttft_s": statistics.median(ttft), "decode_tok_s": statistics.median(decode),
           "prefill_tok_s": statistics.median(prefill), "greedy64": tokens,
           "prompt_tokens": {k: len(v) for k, v in prompts.items()}}
    if kind == "onnx" and app:
        out["app"] = app_rows(run.engine, repeats)
    out["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return out


# ---- the app's path: system prompt, defaults, the kept KV state ----------------------------------

HISTORY_GOALS = (500, 1000, 2000, 3200)
FOLLOW_UP = "And if the patient were pregnant, what would you change?"


def conversation_turns() -> list[tuple[str, str, str]]:
    """(question, reasoning, answer) triples to build a history from: the shared medical-o1 sample, else a
    case description repeated (so the benchmark runs anywhere)."""
    from medassist.model.paths import shared_data

    f = shared_data() / "finetune" / "medical_o1_sample_en.jsonl"
    if f.exists():
        rows = [json.loads(line) for line in f.read_text(encoding="utf-8").splitlines()[:40]]
        return [(r["Question"], r["Complex_CoT"], r["Response"]) for r in rows]
    return [(CLINICAL + "What next?", CLINICAL * 3, CLINICAL)] * 40


def history_of(eng, system: str, n_tokens: int) -> list[dict]:
    from medassist.model import chat as P

    msgs: list[dict] = []
    for q, cot, answer in conversation_turns():
        if eng.count_tokens(eng.render(msgs, system=system)) >= n_tokens:
            break
        msgs += [{"role": "user", "content": q}, {"role": "assistant", "content": P.assistant_turn(cot, answer)}]
    return msgs


def first_token_s(eng, msgs, system) -> tuple[float, int, int]:
    r = eng.generate(msgs, system=system, max_new_tokens=1, thinking_budget=1)
    return r.ttft_s, r.prompt_tokens, r.prompt_tokens - r.cached_tokens


def app_rows(eng, repeats: int) -> dict:
    """First-token times through engine.stream as the app calls it, with the kept KV state and without."""
    from medassist.model import chat as P
    from medassist.model.defaults import QA

    system = P.system_prompt("en")
    question = [{"role": "user", "content": "A 58-year-old man has had crushing chest pain for 40 minutes. What first?"}]
    rows: dict = {}

    def median(fn):
        runs = [fn() for _ in range(repeats)]
        return statistics.median(r[0] for r in runs), runs[0][1], runs[0][2]

    def both(msgs, hist=()):
        """First token reading everything, then from the state the previous turn left (or the load's warm-up)."""
        def fresh():
            eng.reuse_kv = False
            try:
                return first_token_s(eng, msgs, system)
            finally:
                eng.reuse_kv = True

        def kept():
            eng.forget()
            eng.warm(system, hist)  # the system prompt at load; for a follow-up, its history as the model wrote it
            return first_token_s(eng, msgs, system)
        return {"without": median(fresh), "with": median(kept)}

    rows["new_chat"] = both(question)
    rows["follow_up"] = {}
    for goal in HISTORY_GOALS:
        hist = history_of(eng, system, goal)
        rows["follow_up"][goal] = both(hist + [{"role": "user", "content": FOLLOW_UP}], hist)
    r = eng.generate(question, system=system, **QA.kwargs(thinking_budget=256, max_new_tokens=64, temperature=0.0))
    rows["decode_app_tok_s"] = r.tokens_per_s  # penalty 1.15 and the think-block bookkeeping included
    return rows


# ---- orchestration ------------------------------------------------------------------------

def default_backends(name: str) -> dict[str, tuple[str, str]]:
    """The model's torch weights (hf-merged/ or hf/), its ONNX builds, and the GGUF it was built from (a
    fine-tuned model's base's, named in its manifest)."""
    from medassist.model import registry

    folder = registry.model_dir(name)
    out = {}
    try:
        out["torch-bf16"] = ("torch", str(registry.resolve_model(name, backend="torch")))
    except FileNotFoundError:
        pass
    for p in sorted(folder.glob("onnx-*")):
        out[p.name] = ("onnx", str(p))
    manifest = folder / registry.MANIFEST
    base = json.loads(manifest.read_text()).get("base") if manifest.exists() else None
    for gguf in (folder / registry.SOURCE_GGUF, registry.model_dir(base or name) / registry.SOURCE_GGUF):
        if gguf.exists():
            out["llamacpp-q4km"] = ("llamacpp", str(gguf))
            break
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="built model name (default: the one the app uses)")
    ap.add_argument("--backends", nargs="*", help="subset of: torch-bf16 onnx-int4 onnx-int8 llamacpp-q4km")
    ap.add_argument("--variant", action="append", default=[], help="NAME=ONNX_FOLDER, measured as well")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--app", action=argparse.BooleanOptionalAction, default=True,
                    help="also measure the app's path on ONNX rows (kept state, follow-ups)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "generation.json"))
    ap.add_argument("--worker", nargs=3, metavar=("KIND", "PATH", "PROMPTS"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker[0], args.worker[1], args.threads, args.worker[2], args.repeats,
                                args.app)))
        return

    from medassist.model.registry import default_name

    args.model = args.model or default_name()
    backends = default_backends(args.model)
    if args.backends:
        backends = {k: v for k, v in backends.items() if k in args.backends}
    for v in args.variant:
        name, path = v.split("=", 1)
        backends[name] = ("onnx", path)
    from medassist.model.registry import resolve_model

    hf = resolve_model(args.model, backend="torch")
    prompts = make_prompts(hf)
    pf = Path(tempfile.mkstemp(suffix=".json")[1])
    pf.write_text(json.dumps(prompts))
    results = {}
    for name, (kind, path) in backends.items():
        print(f"measuring {name} ...", file=sys.stderr, flush=True)
        proc = subprocess.run([sys.executable, "-m", "benchmarks.generation", "--threads", str(args.threads),
                               "--repeats", str(args.repeats), "--app" if args.app else "--no-app",
                               "--worker", kind, path, str(pf)],
                              capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, HF_HUB_OFFLINE="1"))
        if proc.returncode != 0:
            print(f"  {name} failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else '?'}",
                  file=sys.stderr)
            continue
        results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    ref = results.get("torch-bf16", {}).get("greedy64")
    anchor = results.get("llamacpp-q4km")
    rows = []
    for name, r in results.items():
        same = None
        if ref:
            same = next((i for i, (a, b) in enumerate(zip(r["greedy64"], ref)) if a != b), min(len(ref), len(r["greedy64"])))
        r["greedy_prefix_equal_torch"] = same
        rel = {k: (r[k] / anchor[k] if anchor else None) for k in ("decode_tok_s", "prefill_tok_s", "ttft_s", "peak_rss_gib")}
        r["vs_llamacpp"] = rel
        rows.append((name, r, rel))
    print(f"\n{'backend':18s} {'TTFT s':>7s} {'prefill t/s':>11s} {'decode t/s':>10s} {'peak GiB':>8s} "
          f"{'=torch/64':>9s} | vs llama.cpp: {'decode':>6s} {'prefill':>7s} {'TTFT':>5s} {'RSS':>5s}")
    for name, r, rel in rows:
        f = lambda x: f"{x:.2f}" if x is not None else "  -"
        print(f"{name:18s} {r['ttft_s']:7.2f} {r['prefill_tok_s']:11.1f} {r['decode_tok_s']:10.1f} "
              f"{r['peak_rss_gib']:8.2f} {str(r['greedy_prefix_equal_torch']):>9s} | {'':13s} "
              f"{f(rel['decode_tok_s']):>6s} {f(rel['prefill_tok_s']):>7s} {f(rel['ttft_s']):>5s} {f(rel['peak_rss_gib']):>5s}")
    for name, r in results.items():
        if "app" in r:
            print_app(name, r["app"])
    out = {"model": args.model, "threads": args.threads, "repeats": args.repeats, "decode_tokens": DECODE_TOKENS,
           "prompt_tokens": {k: len(v) for k, v in prompts.items()}, "cpu_count": os.cpu_count(),
           "measured": time.strftime("%Y-%m-%d %H:%M"), "results": results}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(f"\nwrote {args.out}")


def print_app(name: str, app: dict) -> None:
    print(f"\n{name}: first token through the app's engine (s; prompt tokens, tokens read)")
    print(f"{'':28s} {'without kept state':>24s} {'with':>22s} {'ratio':>6s}")
    rows = [("new chat", app["new_chat"])] + [(f"follow-up, {g} history", v) for g, v in app["follow_up"].items()]
    for label, v in rows:
        (a, pa, ra), (b, pb, rb) = v["without"], v["with"]
        print(f"{label:28s} {a:8.2f} ({pa:5d}, {ra:5d}) {b:8.2f} ({pb:5d}, {rb:5d}) {a / b:6.1f}x")
    print(f"decode at the app's settings (penalty 1.15): {app['decode_app_tok_s']:.1f} tok/s")


if __name__ == "__main__":
    main()
