"""A paper summarised in the page, as a user does it, and what the page and the app cost in CPU meanwhile.

    python -m benchmarks.page_summary                      # the 10-page BMC paper in ../shared/data/pdfs
    python -m benchmarks.page_summary --pdf PAPER.pdf --runs 2 --port 7871

Starts the app (python -m medassist.app, the default built model, its data folder as configured) on a loopback
port and drives headless Chromium (Debian's) with Playwright: the Literature tab, upload, Summarise, until the
status says Done. Per run: the summary's own time as the page reports it, the wall time from the click, and the
CPU seconds the browser's processes and the app's process used meanwhile (benchmarks.page_latency's counters):
on a 2-core machine every second the page spends is a second the model does not get. Also the same for 20 s
with the page idle before the click. Prints a table and writes benchmarks/results/page_summary.json.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.page_latency import browser_cpu_s, wait_up
from medassist.model.paths import REPO, shared_data

def app_cpu_s(pid: int) -> float:
    import psutil

    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pdf", default=str(shared_data() / "pdfs" / "bmc_hsr_2014_malawi_quality.pdf"))
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--port", type=int, default=7871)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "page_summary.json"))
    a = ap.parse_args(argv)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not Path(a.pdf).exists() or not chromium:
        print("skipped: needs the PDF (../shared/data) and Debian's chromium")
        return
    from playwright.sync_api import sync_playwright

    url, rows = f"http://127.0.0.1:{a.port}/", []
    for run in range(a.runs):
        app = subprocess.Popen([sys.executable, "-m", "medassist.app", "--port", str(a.port), "--no-open-browser"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_up(url)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1280, "height": 1000})
                page.goto(url)
                page.get_by_role("tab", name="Literature").click()
                page.set_input_files("#lit-file input[type=file]", a.pdf)
                page.wait_for_selector("#lit-status:has-text('pages read')", timeout=300000)
                b0, a0 = browser_cpu_s(), app_cpu_s(app.pid)
                time.sleep(20)
                b1, a1 = browser_cpu_s(), app_cpu_s(app.pid)
                t = time.perf_counter()
                page.click("#lit-run")
                page.wait_for_selector("#lit-status:has-text('Done')", timeout=900000)
                wall = time.perf_counter() - t
                b2, a2 = browser_cpu_s(), app_cpu_s(app.pid)
                shown = float(re.search(r"([\d.]+) s", page.locator("#lit-status").inner_text()).group(1))
                browser.close()
        finally:
            app.terminate()
            app.wait(30)
        rows.append({"run": run + 1, "summary_s": shown, "wall_s": round(wall, 1),
                     "browser_cpu_s": round(b2 - b1, 1), "app_cpu_s": round(a2 - a1, 1),
                     "idle_browser_cpu_s_per_20s": round(b1 - b0, 1), "idle_app_cpu_s_per_20s": round(a1 - a0, 1)})
        print(json.dumps(rows[-1]), flush=True)
    print("\n| run | summary (page) s | browser CPU s | app CPU s | idle 20 s: browser / app CPU s |")
    print("| --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['run']} | {r['summary_s']} | {r['browser_cpu_s']} | {r['app_cpu_s']} | "
              f"{r['idle_browser_cpu_s_per_20s']} / {r['idle_app_cpu_s_per_20s']} |")
    Path(a.out).write_text(json.dumps({"pdf": Path(a.pdf).name, "runs": rows}, indent=1))
    print(f"\nwrote {a.out}")


if __name__ == "__main__":
    main()
