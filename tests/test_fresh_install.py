"""The app run exactly as ./start.sh runs it, in headless Chromium: every download in every tab works.

The other browser tests serve the page in-process with the data folder in /tmp — an environment no
user has, and one in which Gradio happened to serve files from the data folder. Here the app is a
child process started as start.sh starts it (`python -m medassist.app`, the repo root as working directory),
with a fresh HOME, no MEDASSIST_DATA / MEDASSIST_HOME, and its own system temp folder, so the
default data folder (~/.local/share/medassist) is outside both places Gradio serves from, as on a
user's laptop. Not default: the model (the tiny test model, --model-path) and --no-sources (indexing the
bundled reference takes a minute of both cores, which the test's timings cannot share; tests/test_sources.py
covers it).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tests.test_browser import CHROMIUM, free_port, shot

pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM, reason="Debian's chromium is not installed")
ROOT = Path(__file__).resolve().parents[1]
BIB = """@article{smith2021,
  author = {Smith, Jane and Li, Wei},
  title = {Nurse-led telephone follow-up after heart failure admission},
  journal = {Heart},
  year = {2021}
}
"""


@pytest.fixture(scope="module")
def started(tiny_onnx_fp32, tmp_path_factory):
    base = tmp_path_factory.mktemp("fresh")
    home, tmp = base / "home", base / "tmp"
    home.mkdir()
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MEDASSIST_", "XDG_", "GRADIO_")) and k not in ("HOME", "TMPDIR")}
    env.update(HOME=str(home), TMPDIR=str(tmp), PYTHONUNBUFFERED="1")
    port = free_port()
    log = open(base / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "medassist.app", "--port", str(port), "--no-open-browser", "--language", "en",
                             "--model-path", str(tiny_onnx_fp32), "--thinking-budget", "16", "--max-new-tokens", "24",
                             "--no-sources"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while time.time() < deadline and proc.poll() is None:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        raise AssertionError("the app did not start:\n" + (base / "server.log").read_text())
    yield {"url": url, "home": home, "log": base / "server.log"}
    proc.terminate()
    proc.wait(30)
    log.close()


def download(page, selector: str) -> bytes:
    """Click a download button (or a gr.File's link) and return the file's bytes."""
    with page.expect_download(timeout=20000) as dl:
        page.click(selector)
    return Path(dl.value.path()).read_bytes()


def wait_link(page, selector: str, suffix: str) -> str:
    link = f"{selector} a[download$='{suffix}']"  # the link's text is the file's size
    page.locator(link).first.wait_for(timeout=20000)
    return link


def no_error(page) -> None:
    """Gradio marks a failed event with an 'Error' badge on its outputs and a toast; neither may appear."""
    page.wait_for_timeout(300)
    assert page.locator(".toast-body.error").count() == 0, page.locator(".toast-body").all_inner_texts()
    assert page.locator(".wrap .error").count() == 0


def test_every_download_works_on_a_default_install(started, tmp_path):
    from playwright.sync_api import sync_playwright
    from tests.pdfs import two_column_paper

    data = started["home"] / ".local" / "share" / "medassist"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True).new_page()
        page.goto(started["url"])
        page.wait_for_selector("#status:has-text('Model:')", timeout=120000)  # the header names the loaded model

        # Q&A: ask, then History → Export.
        page.fill("#question textarea", "Chest pain for two hours, phone 13812345678. What next?")
        page.click("#send")
        page.wait_for_selector("#stats:has-text('tokens/s')", timeout=60000)
        page.locator("#history").get_by_text("History").first.click()
        page.click("#history-export")
        text = download(page, wait_link(page, "#export-file", ".md")).decode()
        assert "Chest pain for two hours" in text and "[PHONE]" in text and "13812345678" not in text
        no_error(page)

        # Literature: summarise a PDF; the final rendering, no error badge, both downloads.
        page.get_by_role("tab", name="Literature").click()
        page.set_input_files("#lit-file input[type=file]", str(two_column_paper(tmp_path / "paper.pdf")))
        page.wait_for_selector("#lit-status:has-text('pages read')", timeout=60000)
        page.click("#lit-run")
        page.wait_for_selector("#lit-status:has-text('Done')", timeout=180000)
        no_error(page)
        for name in ("Background", "Methods", "Results", "Conclusions", "Limitations"):
            assert page.locator(f"#lit-summary h4:text-is('{name}')").count() == 1  # final, not "Limitations …"
        assert page.locator("#lit-summary .partial").count() == 0
        md = download(page, "#lit-md").decode()
        assert md.startswith("# Nurse-led follow-up") and "## Results" in md and "were redacted" in md
        summary = json.loads(download(page, "#lit-json"))
        assert summary["identifiers_redacted"] and set(summary["fields"]) >= {"background", "results"}
        shot(page, "fresh-install-literature")

        # Outline: generate, edit, export Markdown and Word.
        page.get_by_role("tab", name="Outline").click()
        page.fill("#out-topic textarea", "Does nurse-led telephone follow-up reduce heart failure readmissions?")
        page.click("#out-run")
        page.wait_for_selector("#out-status:has-text('Done')", timeout=120000)
        outline = page.locator("#out-outline textarea").input_value()
        page.fill("#out-outline textarea", outline + "\n## Introduction\n- Nurse-led follow-up after heart failure\n")
        page.click("#out-md-btn")
        assert "Nurse-led follow-up after heart failure" in download(page, wait_link(page, "#out-file", ".md")).decode()
        page.click("#out-docx-btn")
        docx = tmp_path / "outline.docx"
        docx.write_bytes(download(page, wait_link(page, "#out-file", ".docx")))
        assert "Nurse-led follow-up after heart failure" in zipfile.ZipFile(docx).read("word/document.xml").decode()
        no_error(page)

        # References from my library: import a .bib, suggest, export BibTeX and RIS.
        page.get_by_text("References from my library").click()
        bib = tmp_path / "mine.bib"
        bib.write_text(BIB)
        page.set_input_files("#out-lib-files input[type=file]", str(bib))
        page.wait_for_selector("#out-lib-status:has-text('mine.bib')", timeout=30000)
        page.click("#out-suggest")
        page.wait_for_selector("#out-suggestions input[type=checkbox]", timeout=30000)
        page.click("#out-bib")
        assert b"@article{" in download(page, wait_link(page, "#out-ref-file", ".bib"))
        page.click("#out-ris")
        assert b"TY  - " in download(page, wait_link(page, "#out-ref-file", ".ris"))
        no_error(page)

        # Check a draft: the report and its download.
        page.get_by_text("Check a draft against a reporting guideline").click()
        page.fill("#out-draft textarea", (ROOT / "tests" / "data" / "draft_rct.md").read_text())
        page.click("#out-check")
        report = download(page, wait_link(page, "#out-report-file", ".md")).decode()
        assert "| 8a |" in report and "were redacted" in report
        no_error(page)
        shot(page, "fresh-install-outline")
        browser.close()

    log = started["log"].read_text()
    assert "Traceback" not in log and "InvalidPathError" not in log, log[-3000:]
    assert (data / "history.sqlite").exists()  # the default data folder was used ...
    assert not (data / "exports").exists()  # ... and no download was written into it
