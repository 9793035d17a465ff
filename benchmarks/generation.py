"""Generation speed and memory, every backend side by side in one run.

    python -m benchmarks.generation                       # default model: torch bf16, ONNX int8, int4, llama.cpp
    python -m benchmarks.generation --backends onnx-int4 llamacpp --repeats 5
    python -m benchmarks.generation --variant fast=/path/to/onnx_folder   # any extra ONNX folder

For each backend, in its own process (so peak RSS is its own), on the same
token ids and thread count: time to first token on a ~150-token prompt,
prefill tokens/s on a ~1,000-token prompt, decode tokens/s over 128 forced
new tokens, peak RSS, and how many of the first 64 greedy tokens equal
PyTorch's. One warm-up, then the median of --repeats. Prints a table and
writes benchmarks/results/generation.json. llama.cpp needs the optional
extra: pip install -r requirements-bench.txt.
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
        s = eng.start(ids, temperature=0, top_p=1, max_length=len(ids) + n_new + 8, seed=0)
        out = [s.next()]
        t1 = time.perf_counter()
        for _ in range(n_new - 1):
            out.append(s.next())
        return out, t1 - t0, time.perf_counter() - t1

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


def worker(kind: str, path: str, threads: int, prompts_file: str, repeats: int) -> dict:
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
    return {"load_s": load_s, "ttft_s": statistics.median(ttft), "decode_tok_s": statistics.median(decode),
            "prefill_tok_s": statistics.median(prefill), "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
            "greedy64": tokens, "prompt_tokens": {k: len(v) for k, v in prompts.items()}}


# ---- orchestration ------------------------------------------------------------------------

def default_backends(name: str) -> dict[str, tuple[str, str]]:
    from medassist.model.paths import models_dir

    folder = models_dir() / name
    out = {"torch-bf16": ("torch", str(folder / "hf"))}
    for p in sorted(folder.glob("onnx-*")):
        out[p.name] = ("onnx", str(p))
    if (folder / "source.gguf").exists():
        out["llamacpp-q4km"] = ("llamacpp", str(folder / "source.gguf"))
    return out


def main(argv=None) -> None:
    from medassist.model import bases

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=bases.DEFAULT_BASE, help="built model name (under MEDASSIST_HOME/models)")
    ap.add_argument("--backends", nargs="*", help="subset of: torch-bf16 onnx-int4 onnx-int8 llamacpp-q4km")
    ap.add_argument("--variant", action="append", default=[], help="NAME=ONNX_FOLDER, measured as well")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "generation.json"))
    ap.add_argument("--worker", nargs=3, metavar=("KIND", "PATH", "PROMPTS"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker[0], args.worker[1], args.threads, args.worker[2], args.repeats)))
        return

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
                               "--repeats", str(args.repeats), "--worker", kind, path, str(pf)],
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
    out = {"model": args.model, "threads": args.threads, "repeats": args.repeats, "decode_tokens": DECODE_TOKENS,
           "prompt_tokens": {k: len(v) for k, v in prompts.items()}, "cpu_count": os.cpu_count(),
           "measured": time.strftime("%Y-%m-%d %H:%M"), "results": results}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
