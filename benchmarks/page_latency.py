"""Time to the first visible token in the page, with the default built model.

    python -m benchmarks.page_latency [--runs 3] [--port 7870]

Starts the app (python -m medassist.app) on a loopback port, drives headless Chromium with Playwright:
types a question, clicks Send, and times until the first reasoning text is visible, and until
the answer is complete. Compares with the engine's own time to first token (printed on the page),
so the page's overhead shows. Prints a table and writes benchmarks/results/page_latency.json.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the repo: results go to benchmarks/results/

QUESTIONS = [
    "A 45-year-old woman leaks urine when she coughs. What would cystometry most likely show?",
    "What is the first-line treatment of chronic insomnia in older adults?",
    "Appendiceal abscess of 5 cm after 6 days of pain: operate now or drain first?",
]


def wait_up(url: str, timeout: float = 300) -> None:
    t = time.time()
    while time.time() - t < timeout:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(1)
    raise TimeoutError(f"{url} did not come up")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--port", type=int, default=7870)
    ap.add_argument("--budget", type=int, default=128)
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    url = f"http://127.0.0.1:{args.port}"
    env = dict(os.environ, MEDASSIST_DATA=tempfile.mkdtemp(prefix="medassist-bench-"))
    app = subprocess.Popen([sys.executable, "-m", "medassist.app", "--no-open-browser", "--port", str(args.port), "--language", "en",
                            "--thinking-budget", str(args.budget), "--max-new-tokens", "128", "--threads", "2"],
                           cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = []
    try:
        wait_up(url)
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=shutil.which("chromium"), args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
            page = b.new_page()
            page.goto(url)
            page.wait_for_selector("#status:has-text('Model:')", timeout=600_000)  # the model is loaded
            for i in range(args.runs + 1):  # the first run warms up
                page.click("#new-chat")
                page.fill("#question textarea", QUESTIONS[i % len(QUESTIONS)])
                t0 = time.perf_counter()
                page.click("#send")
                page.wait_for_function("(document.querySelector('#chat .thought-group .content')||{innerText:''})"
                                       ".innerText.trim().length > 0", timeout=120_000, polling=10)
                first = time.perf_counter() - t0
                page.wait_for_selector("#stats:has-text('tokens/s')", timeout=600_000)
                total = time.perf_counter() - t0
                m = re.search(r"first token ([\d.]+) s · ([\d.]+) tokens/s", page.inner_text("#stats"))
                if i:
                    rows.append({"page_first_token_s": first, "engine_ttft_s": float(m.group(1)) if m else None,
                                 "engine_tokens_per_s": float(m.group(2)) if m else None, "complete_s": total})
            b.close()
    finally:
        app.terminate()
        app.wait(30)
    med = {k: statistics.median(r[k] for r in rows if r[k] is not None) for k in rows[0]}
    print(f"{'median of':12s} {'page first token s':>18s} {'engine TTFT s':>13s} {'page overhead s':>15s} {'decode t/s':>10s}")
    print(f"{len(rows):>3d} runs      {med['page_first_token_s']:18.2f} {med['engine_ttft_s']:13.2f} "
          f"{med['page_first_token_s'] - med['engine_ttft_s']:15.2f} {med['engine_tokens_per_s']:10.1f}")
    out = ROOT / "benchmarks" / "results" / "page_latency.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"runs": rows, "median": med, "measured": time.strftime("%Y-%m-%d %H:%M")}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
