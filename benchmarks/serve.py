"""A served model under load: requests/s, time to first token and tokens/s at 1, 4 and 16 concurrent users.

    python -m benchmarks.serve --url http://127.0.0.1:8080/v1                  # any OpenAI-compatible server
    python -m benchmarks.serve --llamacpp path/to/model.gguf                  # starts llama-cpp-python's server
    python -m benchmarks.serve --llamacpp qwen2.5-coder-0.5b --also-medassist # + MedAssist's own /v1, same run
    python -m benchmarks.serve --url http://gpu-box:8000/v1 --model deepseek-r1-distill-qwen-7b --card "H100 80GB"

Each simulated user sends the same short clinical question in a loop (streaming, greedy, --max-tokens new
tokens) until --requests have been answered at that concurrency. Per request: time to first streamed token and
decode tokens/s (after the first token); per level: requests/s and total generated tokens/s over the wall time.
Medians and 90th percentiles are printed as a table and written to benchmarks/results/serve-<name>.json.
The client is the official `openai` package, as every user of the endpoint would use it.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# No red-flag symptoms: MedAssist would put its emergency notice first, and the first token timed would be that.
QUESTION = ("A 70-year-old woman with type 2 diabetes has had a productive cough and fever for three days. "
            "Which findings decide between treating her at home and admitting her?")


def one_request(client, model: str, max_tokens: int, extra: dict | None = None) -> dict:
    t0 = time.perf_counter()
    first = None
    n = 0
    stream = client.chat.completions.create(model=model, messages=[{"role": "user", "content": QUESTION}],
                                            stream=True, max_tokens=max_tokens, temperature=0, extra_body=extra)
    for ev in stream:
        if not ev.choices:
            continue
        d = ev.choices[0].delta
        if d and (d.content or (d.model_extra or {}).get("reasoning_content") or (d.model_extra or {}).get("reasoning")):
            n += 1
            if first is None:
                first = time.perf_counter()
    end = time.perf_counter()
    return {"ttft_s": (first or end) - t0, "tokens": n, "seconds": end - t0,
            "decode_tok_s": (n - 1) / (end - first) if first and n > 1 and end > first else 0.0}


def level(url: str, model: str, users: int, requests: int, max_tokens: int, key: str, extra: dict | None) -> dict:
    from openai import OpenAI

    client = OpenAI(base_url=url, api_key=key, max_retries=0, timeout=600)
    rows, lock, left = [], threading.Lock(), [requests]

    def user():
        while True:
            with lock:
                if left[0] <= 0:
                    return
                left[0] -= 1
            r = one_request(client, model, max_tokens, extra)
            with lock:
                rows.append(r)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=user) for _ in range(users)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0

    def pct(key, q):
        xs = sorted(r[key] for r in rows)
        return xs[min(len(xs) - 1, int(q * len(xs)))]

    return {"users": users, "requests": len(rows), "wall_s": round(wall, 2),
            "requests_per_s": round(len(rows) / wall, 3),
            "total_tok_s": round(sum(r["tokens"] for r in rows) / wall, 1),
            "ttft_s_median": round(statistics.median(r["ttft_s"] for r in rows), 3),
            "ttft_s_p90": round(pct("ttft_s", 0.9), 3),
            "decode_tok_s_median": round(statistics.median(r["decode_tok_s"] for r in rows), 1),
            "tokens_median": statistics.median(r["tokens"] for r in rows)}


def wait_for(url: str, proc=None, seconds: int = 300) -> None:
    for _ in range(seconds * 2):
        if proc is not None and proc.poll() is not None:
            sys.exit(f"error: the server exited: {proc.stdout.read()[-2000:] if proc.stdout else ''}")
        try:
            urllib.request.urlopen(url + "/models", timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    sys.exit(f"error: {url} did not come up in {seconds} s")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_llamacpp(gguf: str, threads: int) -> tuple[subprocess.Popen, str]:
    from medassist.model import bases

    if gguf in bases.BUNDLED:  # a bundled base: join its parts once, beside the other build artifacts
        from medassist.model.build import BuildConfig, stage_source
        from medassist.model.registry import model_dir

        gguf = str(stage_source(BuildConfig(base=gguf), model_dir(gguf)))
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", gguf, "--host", "127.0.0.1",
                             "--port", str(port), "--n_ctx", "4096", "--n_threads", str(threads), "--verbose", "False",
                             # by default a new request interrupts the one being answered: queue them instead
                             "--interrupt_requests", "False"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/v1"
    wait_for(url, proc)
    return proc, url


def start_medassist(threads: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "medassist.app", "--api-only", "--port", str(port),
                             "--threads", str(threads), "--no-build-if-missing"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/v1"
    wait_for(url, proc)
    for _ in range(600):  # the API answers /models at once; the model loads behind it
        if json.loads(urllib.request.urlopen(url + "/models").read())["data"][0].get("ready"):
            break
        time.sleep(0.5)
    return proc, url


def run(name: str, url: str, model: str | None, users: list[int], requests: int, max_tokens: int, key: str,
        extra: dict | None = None) -> list[dict]:
    from openai import OpenAI

    model = model or OpenAI(base_url=url, api_key=key).models.list().data[0].id
    one_request(OpenAI(base_url=url, api_key=key, max_retries=0, timeout=600), model, 8, extra)  # warm-up
    rows = []
    for u in users:
        r = level(url, model, u, max(requests, u), max_tokens, key, extra) | {"server": name, "model": model}
        rows.append(r)
        print(f"{name:28s} {u:>5d} {r['requests']:>4d} {r['requests_per_s']:>8.3f} {r['total_tok_s']:>9.1f} "
              f"{r['ttft_s_median']:>9.2f} {r['ttft_s_p90']:>8.2f} {r['decode_tok_s_median']:>9.1f} "
              f"{r['tokens_median']:>7.0f}", flush=True)
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", help="an OpenAI-compatible server's /v1 address")
    ap.add_argument("--model", default=None, help="the server's model (default: its first)")
    ap.add_argument("--llamacpp", default=None, help="start llama-cpp-python's server on this GGUF (or bundled base)")
    ap.add_argument("--also-medassist", action="store_true", help="also measure MedAssist's own /v1 (--api-only)")
    ap.add_argument("--users", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--requests", type=int, default=16, help="requests per concurrency level (at least the users)")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2, help="CPU threads for the servers started here")
    ap.add_argument("--card", default="", help="the accelerator, for the record (e.g. 'H100 80GB')")
    ap.add_argument("--name", default=None, help="results file: benchmarks/results/serve-<name>.json")
    args = ap.parse_args(argv)
    import os

    key = os.environ.get("MEDASSIST_ENDPOINT_KEY", "none")
    procs, targets = [], []
    try:
        if args.llamacpp:
            proc, url = start_llamacpp(args.llamacpp, args.threads)
            procs.append(proc)
            targets.append(("llama-cpp-python server", url, None, None))
        if args.url:
            targets.append((args.url.split("//")[-1], args.url, args.model, None))
        if args.also_medassist:
            proc, url = start_medassist(args.threads)
            procs.append(proc)
            # MedAssist's max_tokens caps the answer and thinking_budget the reasoning: no reasoning here, so both
            # servers generate the same number of tokens.
            targets.append(("MedAssist /v1 (ONNX)", url, None, {"thinking_budget": 0}))
        if not targets:
            ap.error("give --url, --llamacpp or --also-medassist")
        print(f"{'server':28s} {'users':>5s} {'reqs':>4s} {'req/s':>8s} {'tok/s':>9s} {'TTFT med':>9s} {'p90':>8s} "
              f"{'decode/u':>9s} {'tokens':>7s}")
        rows = []
        for name, url, model, extra in targets:
            rows += run(name, url, model, args.users, args.requests, args.max_tokens, key, extra)
    finally:
        for p in procs:
            p.terminate()
    out = ROOT / "benchmarks" / "results" / f"serve-{args.name or 'latest'}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"question": QUESTION, "max_tokens": args.max_tokens, "card": args.card or "CPU",
                               "threads": args.threads, "rows": rows, "measured": time.strftime("%Y-%m-%d %H:%M")},
                              indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
