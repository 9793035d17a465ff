"""What a user sees in the page, against what the engine does alone, in one run.

    python -m benchmarks.page_latency [--runs 3] [--intervals 0.2 0.5] [--uncapped] [--port 7870]

For each page update interval (--stream-interval-s of the app), starts the app (python -m medassist.app)
on a loopback port with the default built model, greedy, and drives headless Chromium with Playwright:
types a question, clicks Send, times until the first reasoning text is visible and until the answer is
complete, then asks a follow-up in the same chat and times it the same way. Tokens per second seen in
the page = the answer's tokens (printed on the page) over the time from first visible text to complete.
Then, with the app stopped, the same questions run through the engine alone in this process (same
settings, same kept KV state): its own first-token time and tokens per second, so the ratios say what
the page costs. --uncapped also measures each interval with MedAssist's animation-frame cap taken out of the
page (app/__main__.py FRAME_CAP), in the same run. Prints a table and writes benchmarks/results/page_latency.json.
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
FOLLOW_UP = "What if she were pregnant?"
STATS = r"first token ([\d.]+) s · ([\d.]+) tokens/s · (\d+) tokens"
STATS_JS = STATS.replace("/", "\\/")  # as a JavaScript regex literal
# Watches the page from inside: a MutationObserver notes when the n-th reasoning panel first shows text and when
# the stats line says the answer is complete. Polling the page from Playwright instead (innerText every 20 ms)
# forced a style and layout pass 50 times a second (a trace of one answer: ~3,400 of its ~6,000 timers), so the
# old figures charged the page for the benchmark's own probing. textContent forces no layout.
RECORDER = """(n) => {
  const re = /%s/;
  const t = window.__t = {start: performance.now(), first: null, done: null};
  const check = () => {
    if (t.first === null) {
      const g = document.querySelectorAll('#chat .thought-group');
      const c = g.length >= n ? g[n - 1].querySelector('.content') : null;
      if (c !== null && c.textContent.trim().length > 0) t.first = performance.now();
    }
    if (t.first !== null && t.done === null) {
      const s = document.querySelector('#stats');
      if (s !== null && re.test(s.textContent)) { t.done = performance.now(); obs.disconnect(); }
    }
  };
  const obs = new MutationObserver(check);
  obs.observe(document.body, {subtree: true, childList: true, characterData: true});
}""" % STATS_JS


def wait_up(url: str, timeout: float = 300) -> None:
    t = time.time()
    while time.time() - t < timeout:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(1)
    raise TimeoutError(f"{url} did not come up")


def browser_cpu_s() -> float:
    """CPU seconds used so far by the Chromium processes this benchmark started (they share the model's cores)."""
    import psutil

    total = 0.0
    for p in psutil.Process().children(recursive=True):
        try:
            if "chrom" in p.name().lower():
                t = p.cpu_times()
                total += t.user + t.system
        except psutil.Error:
            pass
    return total


def ask(page, text: str, n_thoughts: int) -> dict:
    """Send one question; times to the first visible reasoning and to the finished answer (noted in the page,
    read back twice a second), and the CPU the browser used meanwhile."""
    page.fill("#question textarea", text)
    cpu0 = browser_cpu_s()
    page.evaluate(RECORDER, n_thoughts)
    page.click("#send")
    page.wait_for_function("window.__t.done !== null", timeout=900_000, polling=500)
    t = page.evaluate("window.__t")
    first, total = (t["first"] - t["start"]) / 1000, (t["done"] - t["start"]) / 1000
    m = re.search(STATS, page.text_content("#stats"))
    n = int(m.group(3))
    return {"page_first_s": first, "complete_s": total, "tokens": n, "engine_ttft_s": float(m.group(1)),
            "engine_tok_s_in_app": float(m.group(2)), "page_tok_s": n / max(total - first, 1e-6),
            "browser_cpu_s_per_100_tokens": 100 * (browser_cpu_s() - cpu0) / max(n, 1)}


def run_page(interval: float, args, frame_cap: bool = True) -> list[dict]:
    """frame_cap False: the page as Gradio serves it, without MedAssist's animation-frame cap (app/__main__.py),
    which this removes from the page on its way to the browser, so both are measured in one run."""
    from playwright.sync_api import sync_playwright

    from medassist.app.__main__ import FRAME_CAP

    url = f"http://127.0.0.1:{args.port}"
    env = dict(os.environ, MEDASSIST_DATA=tempfile.mkdtemp(prefix="medassist-bench-"))
    app = subprocess.Popen([sys.executable, "-m", "medassist.app", "--no-open-browser", "--port", str(args.port),
                            "--language", "en", "--no-sources", "--thinking-budget", str(args.budget), "--max-new-tokens",
                            str(args.max_new), "--temperature", "0", "--threads", "2",
                            "--stream-interval-s", str(interval)],
                           cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = []
    try:
        wait_up(url)
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=shutil.which("chromium"), args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
            page = b.new_page()
            if not frame_cap:
                page.route(url + "/", lambda route: route.fulfill(
                    response=(r := route.fetch()), body=r.body().replace(FRAME_CAP, b"")))
            page.goto(url)
            page.wait_for_selector("#status:has-text('Model:')", timeout=600_000)  # the model is loaded
            for i in range(args.runs):
                page.click("#new-chat")
                page.wait_for_function("document.querySelectorAll('#chat .thought-group').length == 0")
                new = ask(page, QUESTIONS[i % len(QUESTIONS)], 1)
                follow = ask(page, FOLLOW_UP, 2)
                rows.append({"question": i, "new": new, "follow_up": follow})
            b.close()
    finally:
        app.terminate()
        app.wait(30)
    return rows


def run_engine(args) -> list[dict]:
    """The same conversations through the engine alone, as the app drives it (kept state, warm at load)."""
    from medassist.app.config import AppConfig
    from medassist.model import chat as P
    from medassist.model.engine import load_engine

    eng = load_engine(threads=2)
    system = P.system_prompt("en")
    eng.warm(system)
    kw = dict(system=system, thinking_budget=args.budget, max_new_tokens=args.max_new, temperature=0.0,
              repetition_penalty=AppConfig().repetition_penalty)
    rows = []
    for i in range(args.runs):
        q = [{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]}]
        a = eng.generate(q, **kw)
        msgs = q + [{"role": "assistant", "content": P.assistant_turn(a.thinking, a.answer)},
                    {"role": "user", "content": FOLLOW_UP}]
        b = eng.generate(msgs, **kw)
        rows.append({"new": {"ttft_s": a.ttft_s, "tok_s": a.tokens_per_s, "tokens": a.generated_tokens},
                     "follow_up": {"ttft_s": b.ttft_s, "tok_s": b.tokens_per_s, "tokens": b.generated_tokens,
                                   "tokens_read": b.prompt_tokens - b.cached_tokens}})
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--port", type=int, default=7870)
    ap.add_argument("--budget", type=int, default=384)
    ap.add_argument("--max-new", type=int, default=192)
    ap.add_argument("--intervals", type=float, nargs="+", default=[0.2])
    ap.add_argument("--uncapped", action="store_true", help="also measure each interval without the frame cap")
    args = ap.parse_args(argv)

    page = {str(iv): run_page(iv, args) for iv in args.intervals}
    if args.uncapped:
        page |= {f"{iv} uncapped": run_page(iv, args, frame_cap=False) for iv in args.intervals}
    engine = run_engine(args)
    med = lambda xs: statistics.median(xs)  # noqa: E731
    eng_new_tps = med([r["new"]["tok_s"] for r in engine])
    eng_fu_tps = med([r["follow_up"]["tok_s"] for r in engine])
    summary = {"engine": {"new_ttft_s": med([r["new"]["ttft_s"] for r in engine]), "new_tok_s": eng_new_tps,
                          "follow_up_ttft_s": med([r["follow_up"]["ttft_s"] for r in engine]),
                          "follow_up_tok_s": eng_fu_tps,
                          "follow_up_tokens_read": med([r["follow_up"]["tokens_read"] for r in engine])}}
    print(f"{'':35s} {'first visible s':>15s} {'follow-up first s':>17s} {'tokens/s seen':>13s} "
          f"{'follow-up t/s':>13s} {'vs engine':>9s} {'browser CPU s/100 tok':>21s}")
    for iv, rows in page.items():
        s = {"new_first_s": med([r["new"]["page_first_s"] for r in rows]),
             "follow_up_first_s": med([r["follow_up"]["page_first_s"] for r in rows]),
             "new_tok_s": med([r["new"]["page_tok_s"] for r in rows]),
             "follow_up_tok_s": med([r["follow_up"]["page_tok_s"] for r in rows]),
             "browser_cpu_s_per_100_tokens": med([r[k]["browser_cpu_s_per_100_tokens"] for r in rows
                                                  for k in ("new", "follow_up")])}
        s["ratio_tok_s"] = (s["new_tok_s"] + s["follow_up_tok_s"]) / (eng_new_tps + eng_fu_tps)
        summary[f"page_interval_{iv}"] = s
        label = "page, update every " + (iv.replace(" uncapped", " s, no frame cap") if "uncapped" in iv else iv + " s")
        print(f"{label:35s} {s['new_first_s']:15.2f} {s['follow_up_first_s']:17.2f} "
              f"{s['new_tok_s']:13.1f} {s['follow_up_tok_s']:13.1f} {s['ratio_tok_s']:8.2f}x "
              f"{s['browser_cpu_s_per_100_tokens']:21.2f}")
    e = summary["engine"]
    print(f"{'engine alone':35s} {e['new_ttft_s']:15.2f} {e['follow_up_ttft_s']:17.2f} {e['new_tok_s']:13.1f} "
          f"{e['follow_up_tok_s']:13.1f} {1.0:8.2f}x   (follow-up read {e['follow_up_tokens_read']:.0f} tokens)")
    out = ROOT / "benchmarks" / "results" / "page_latency.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"summary": summary, "page": page, "engine": engine, "settings": vars(args),
                               "measured": time.strftime("%Y-%m-%d %H:%M")}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
