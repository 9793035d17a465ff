"""Browser tests: headless Chromium (Debian's package) driven by Playwright against the real page,
served in-process on a free loopback port, answering with a tiny ONNX model.

Each token is slowed a little (SlowEngine) so that streaming and the stop button can be seen at
human speed. Screenshots go to test-output/. Skips cleanly where Chromium or Playwright is missing.
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import time
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM, reason="Debian's chromium is not installed")
SHOTS = Path(__file__).resolve().parents[1] / "test-output"


class SlowEngine:
    """Wraps a real engine; each step of generation waits `delay` seconds."""

    def __init__(self, engine, delay: float):
        self._e, self.delay = engine, delay
        self.canned: tuple[str, str] | None = None  # (reasoning, answer) to stream instead of the model's words
        new_session = engine.new_session

        def slow_session(capacity):  # every KV state this engine makes (kept ones too) is slowed
            s = new_session(capacity)
            for name in ("logits", "greedy"):
                if hasattr(s, name):
                    setattr(s, name, self._slowed(getattr(s, name)))
            return s
        engine.new_session = slow_session

    def _slowed(self, fn):
        def slow(*a):
            time.sleep(self.delay)
            return fn(*a)
        return slow

    def __getattr__(self, name):
        return getattr(self._e, name)

    def stream(self, messages, **kw):
        if self.canned:
            from medassist.model.engine.base import Chunk

            thinking, answer = self.canned
            pieces = [(w, "thinking") for w in re.split(r"(?<= )", thinking)] + \
                [(w, "answer") for w in re.split(r"(?<= )", answer)]
            for i, (w, phase) in enumerate(pieces):
                time.sleep(self.delay)
                last = i == len(pieces) - 1
                yield Chunk(w, phase, 5, i + 1, 10.0, 0.1, "stop" if last else None, "model" if phase == "answer" else None)
            return
        yield from self._e.stream(messages, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tiny_onnx_fp32, tmp_path_factory):
    import os

    os.environ["MEDASSIST_DATA"] = str(tmp_path_factory.mktemp("data"))
    from medassist.app.config import AppConfig
    from medassist.store.history import History
    from medassist.app.service import ModelService
    from medassist.app.__main__ import launch
    from medassist.app.ui import build_ui
    from medassist.model.engine import load_engine

    cfg = AppConfig(language="en", thinking_budget=48, max_new_tokens=48, temperature=0.8, max_pdf_mb=1)
    real = load_engine(tiny_onnx_fp32, threads=1)
    # The random tiny model often emits bytes that are not valid UTF-8, which show as nothing; render each
    # token id as a visible word instead, so streaming can be seen. Generation itself is the real model's.
    real.decode = lambda ids: "".join(f" w{i}" for i in ids)
    engine = SlowEngine(real, delay=0.02)
    # Those words are supported by no passage, and the support checks would remove every bullet.
    import functools

    from medassist.app.tabs import literature
    from medassist.papers.summarize import SummaryConfig
    literature.SummaryConfig = functools.partial(SummaryConfig, drop_below=0.0, judge=False)
    history = History(cfg.history_path)
    demo = build_ui(ModelService(cfg, engine=engine), history, cfg)
    demo.queue(default_concurrency_limit=1)
    port = free_port()
    launch(demo, cfg, server_port=port, prevent_thread_lock=True)  # as python -m medassist.app does
    yield {"url": f"http://127.0.0.1:{port}", "engine": engine, "history": history}
    demo.close()
    literature.SummaryConfig = SummaryConfig


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    pg = ctx.new_page()
    pg.requests = []
    pg.on("request", lambda r: pg.requests.append(r.url))
    pg.goto(server["url"])
    pg.wait_for_selector("#send")
    yield pg
    ctx.close()


def ask(pg, text: str) -> None:
    pg.fill("#question textarea", text)
    pg.click("#send")


# The README's pictures of each tab come from these tests: MEDASSIST_SCREENSHOTS=docs/screenshots ./test.sh
README_SHOTS = {"qa-answer": "qa", "qa-sources": "qa-sources", "literature-summary": "literature", "outline": "outline", "settings": "settings"}


def shot(pg, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    if os.environ.get("MEDASSIST_SCREENSHOTS") and name in README_SHOTS:
        folder = Path(os.environ["MEDASSIST_SCREENSHOTS"])
        folder.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(folder / f"{README_SHOTS[name]}.png"))


def chat_text_length(pg) -> int:
    return pg.evaluate("document.querySelector('#chat').textContent.length")


def test_question_streams_and_finishes(page, server):
    base = chat_text_length(page)
    server["engine"].delay = 0.05  # ~5 s of streaming, so several page updates are seen even on a busy CPU
    try:
        _ask_and_watch(page, server, base)
    finally:
        server["engine"].delay = 0.02


def _ask_and_watch(page, server, base):
    ask(page, "A 30-year-old has a fever and cough. What next?")
    page.wait_for_selector("#chat .thought-group", timeout=20000)
    lengths = []
    while not page.locator("#stats:has-text('tokens/s')").count() and len(lengths) < 300:
        lengths.append(chat_text_length(page))
        page.wait_for_timeout(100)
    grew = sum(1 for a, b in zip(lengths, lengths[1:]) if b > a)
    assert grew >= 3, f"the answer should arrive in several pieces, saw lengths {lengths[:20]}"
    page.wait_for_selector("#stats:has-text('tokens/s')", timeout=30000)
    assert chat_text_length(page) > base
    shot(page, "qa-answer")
    assert all(u.startswith(server["url"]) for u in page.requests), "the page fetched something off this computer"


# Counts the animation frames in which any requestAnimationFrame callback ran (distinct frame times), from
# before the page's own scripts: MedAssist's cap (app/__main__.py FRAME_CAP) then wraps this.
COUNT_FRAMES = """(() => {
  const raf = window.requestAnimationFrame.bind(window);
  window.__frames = new Set();
  window.requestAnimationFrame = (cb) => raf((t) => { window.__frames.add(t); cb(t); });
})();"""


def test_streaming_does_not_animate_at_the_screen_rate(browser, server):
    """Gradio's status tracker asks for a frame every 1/60 s while an answer streams; the page caps its loop at
    ~10 frames a second so the browser leaves the cores to the model (benchmarks/page_latency.py measures it)."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    pg = ctx.new_page()
    pg.add_init_script(COUNT_FRAMES)
    pg.goto(server["url"])
    pg.wait_for_selector("#send")
    # the page's own loading animation (Gradio's logo, while the first events run) plays for a few seconds
    for _ in range(40):
        pg.evaluate("window.__frames.clear()")
        pg.wait_for_timeout(500)
        if pg.evaluate("window.__frames.size") < 10:
            break
    server["engine"].delay = 0.1
    try:
        ask(pg, "What causes a fever?")
        pg.wait_for_selector("#chat .thought-group", timeout=20000)
        pg.evaluate("window.__frames.clear()")
        pg.wait_for_timeout(2000)
        frames = pg.evaluate("window.__frames.size")
        streaming = not pg.locator("#stats:has-text('tokens/s')").count()
        pg.click("#stop")
        pg.wait_for_selector("#stats:has-text('tokens/s')", timeout=10000)
        # after the answer a tracker's timer loop is left running (Gradio 6.31): capped too, or it draws at the
        # screen rate for as long as the page is open
        pg.wait_for_timeout(1000)
        pg.evaluate("window.__frames.clear()")
        pg.wait_for_timeout(2000)
        idle = pg.evaluate("window.__frames.size")
    finally:
        server["engine"].delay = 0.02
        ctx.close()
    assert streaming, "the answer finished before the frames were counted"
    assert frames <= 60, f"{frames} animation frames in 2 s of streaming (uncapped: ~120)"
    assert idle <= 30, f"{idle} animation frames in 2 s after the answer (uncapped: ~120)"


def test_reasoning_panel_opens_and_closes(page):
    ask(page, "Why is the sky blue?")
    page.wait_for_selector("#stats:has-text('tokens/s')", timeout=30000)
    title = page.locator("#chat .thought-group .title").first
    content = page.locator("#chat .thought-group .content").first

    def is_open():
        return "expanded" in (title.get_attribute("class") or "") and content.get_attribute("inert") is None

    assert not is_open(), "a finished reasoning panel starts closed"
    title.click()
    page.wait_for_function("!document.querySelector('#chat .thought-group .content').hasAttribute('inert')")
    assert is_open()
    shot(page, "reasoning-open")
    title.click()
    page.wait_for_function("document.querySelector('#chat .thought-group .content').hasAttribute('inert')")
    assert not is_open()


def test_stop_mid_answer(page, server):
    server["engine"].delay = 0.1  # 48 + 48 tokens would take ~10 s
    try:
        ask(page, "Tell me everything about sepsis.")
        page.wait_for_selector("#chat .thought-group", timeout=20000)
        page.wait_for_timeout(500)
        t0 = time.time()
        page.click("#stop")
        page.wait_for_selector("#chat:has-text('(stopped)')", timeout=5000)
        assert time.time() - t0 < 5
        page.wait_for_selector("#stats:has-text('tokens/s')", timeout=5000)  # the final render
        # the engine really stopped: far fewer tokens than the 48 + 48 allowed, and the reason recorded
        saved = server["history"].messages(server["history"].conversations()[0]["id"])[-1]
        assert saved["meta"]["finish"] == "cancelled" and 0 < saved["meta"]["tokens"] < 48
        # what was written before Stop is kept: on screen and in History
        assert saved["thinking"] and page.locator("#chat .thought-group").count() >= 1
        shot(page, "qa-stopped")
    finally:
        server["engine"].delay = 0.02


def test_settings_tab_says_where_data_lives(page):
    page.get_by_role("tab", name="Settings").click()
    page.wait_for_selector("#delete-all", timeout=5000)
    assert page.get_by_text("Data folder").count() == 1 and page.get_by_text("Nothing leaves this computer").count() == 1
    shot(page, "settings")


def test_delete_all_asks_first_then_clears_the_page(page, server):
    ask(page, "A question to be deleted")
    page.wait_for_selector("#stats:has-text('tokens/s')", timeout=30000)
    page.get_by_role("tab", name="Settings").click()
    page.click("#delete-all")
    page.wait_for_selector("#delete-all-confirm:has-text('removed for good')", timeout=5000)
    page.click("#delete-all-cancel")
    page.wait_for_selector("#delete-all-confirm", state="hidden", timeout=5000)
    assert server["history"].conversations()  # Cancel deleted nothing
    page.click("#delete-all")
    page.click("#delete-all-yes")
    page.wait_for_selector("#delete-all-confirm", state="hidden", timeout=5000)
    assert server["history"].conversations() == []
    page.get_by_role("tab", name="Q&A").click()
    assert "A question to be deleted" not in page.locator("#chat").inner_text()
    ask(page, "After the delete")  # answered and saved: the session was reset, nothing deleted was re-sent
    page.wait_for_selector("#stats:has-text('tokens/s')", timeout=30000)
    (conv,) = server["history"].conversations()  # a new conversation, holding only the new turn
    assert [m["content"] for m in server["history"].messages(conv["id"])][0] == "After the delete"


def test_switch_language(page):
    page.get_by_label("中文").check()
    page.wait_for_selector("#send:has-text('发送')", timeout=5000)
    assert page.locator("#notice").inner_text().find("不能替代临床判断") >= 0
    shot(page, "language-zh")
    page.get_by_label("English").check()
    page.wait_for_selector("#send:has-text('Send')", timeout=5000)


def test_emergency_banner_and_export_history(page, server):
    ask(page, "Crushing chest pain radiating to the left arm, phone 13812345678")
    page.wait_for_selector("#emergency-banner:has-text('Possible emergency')", timeout=10000)
    page.wait_for_selector("#stats:has-text('tokens/s')", timeout=30000)
    page.locator("#history").get_by_text("History").first.click()  # open the accordion
    page.click("#history-export")
    link = page.locator("#export-file a").first
    link.wait_for(timeout=10000)
    with page.expect_download() as dl:
        link.click()
    text = Path(dl.value.path()).read_text(encoding="utf-8")
    assert "Crushing chest pain" in text and "[PHONE]" in text and "13812345678" not in text
    shot(page, "history-export")


def test_four_users_at_once_all_answered_in_order(browser, server):
    """Four sessions ask at once: one model, one queue; every answer arrives, first come first served."""
    pages = []
    for i in range(4):
        ctx = browser.new_context()
        pg = ctx.new_page()
        pg.goto(server["url"])
        pg.wait_for_selector("#send")
        pages.append(pg)
    for i, pg in enumerate(pages):
        ask(pg, f"Question number {i} about asthma")
        pg.wait_for_timeout(300)  # a clear order of arrival
    finished: dict[int, float] = {}
    deadline = time.time() + 180
    while len(finished) < 4 and time.time() < deadline:
        for i, pg in enumerate(pages):
            if i not in finished and pg.locator("#stats:has-text('tokens/s')").count():
                finished[i] = time.time()
        time.sleep(0.1)
    assert len(finished) == 4, f"only sessions {sorted(finished)} got an answer"
    assert sorted(finished, key=finished.get) == [0, 1, 2, 3]
    for i, pg in enumerate(pages):
        assert f"Question number {i}" in pg.locator("#chat").inner_text()  # each session got its own answer
        pg.context.close()


def test_no_connection_leaves_this_computer(page, server, monkeypatch, tmp_path):
    """While the server answers a question and summarises a PDF, no socket connects anywhere but loopback."""
    attempts = []
    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else str(address)
        if self.family in (socket.AF_INET, socket.AF_INET6) and not (host.startswith("127.") or host in ("::1", "localhost")):
            attempts.append(address)
            raise OSError("blocked by test: non-loopback connection")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    ask(page, "What is the first-line treatment for hypertension?")
    page.wait_for_selector("#stats:has-text('tokens/s')", timeout=30000)
    from tests.pdfs import two_column_paper

    server["engine"].delay = 0.0
    try:
        summarise_in_page(page, server, two_column_paper(tmp_path / "egress.pdf"))
    finally:
        server["engine"].delay = 0.02
    assert attempts == []
    assert all(u.startswith(server["url"]) for u in page.requests)


def summarise_in_page(page, server, pdf) -> None:
    page.get_by_role("tab", name="Literature").click()
    page.set_input_files("#lit-file input[type=file]", str(pdf))
    page.wait_for_selector("#lit-status:has-text('pages read')", timeout=60000)
    page.click("#lit-run")
    try:
        page.wait_for_selector("#lit-status:has-text('Done')", timeout=120000)
    except Exception:
        shot(page, "literature-timeout")
        raise AssertionError(f"no summary; status: {page.locator('#lit-status').inner_text()!r}") from None


def test_literature_summary_citation_click_and_download(page, server, tmp_path):
    from tests.pdfs import two_column_paper

    server["engine"].delay = 0.0
    try:
        summarise_in_page(page, server, two_column_paper(tmp_path / "paper.pdf"))
    finally:
        server["engine"].delay = 0.02
    for name in ("Background", "Methods", "Results", "Conclusions", "Limitations"):
        assert page.locator(f"#lit-summary h4:has-text('{name}')").count() == 1
    source = page.locator("#lit-summary .cite-source")
    assert not source.is_visible()
    assert page.locator("#lit-summary ul.facts li").count() >= 2  # the paper's key facts head the summary
    cite = page.locator("#lit-summary button.cite[data-passage]").first  # (the design cites the title: no passage)
    cited_page = cite.get_attribute("data-page")
    cite.click()
    source.wait_for(state="visible", timeout=5000)
    assert source.inner_text().startswith(f"p. {cited_page}") and len(source.inner_text()) > 100
    assert page.locator("#lit-summary .cite-source .hit").count() == 1  # the supporting passage is highlighted
    shot(page, "literature-summary")
    with page.expect_download() as dl:
        page.click("#lit-md")
    text = Path(dl.value.path()).read_text(encoding="utf-8")
    assert text.startswith("# Nurse-led follow-up") and "## Results" in text


def test_several_papers_summarised_and_picked(page, server, tmp_path):
    from tests.pdfs import two_column_paper

    first, second = two_column_paper(tmp_path / "first.pdf"), two_column_paper(tmp_path / "second.pdf")
    page.get_by_role("tab", name="Literature").click()
    page.set_input_files("#lit-file input[type=file]", [str(first), str(second)])
    page.wait_for_selector("#lit-status:has-text('2 papers read: first.pdf, second.pdf')", timeout=60000)
    assert page.locator("#lit-paper").is_visible()
    server["engine"].delay = 0.0
    try:
        page.click("#lit-run")
        page.wait_for_selector("#lit-status:has-text('(2/2) second.pdf')", timeout=120000)
        page.wait_for_selector("#lit-status:has-text('Done')", timeout=120000)
    finally:
        server["engine"].delay = 0.02
    from playwright.sync_api import expect

    picker = page.locator("#lit-paper input")
    expect(picker).to_have_value("second.pdf", timeout=10000)  # set after the run (an event of its own)
    picker.click()
    page.get_by_role("option", name="first.pdf").click()
    page.wait_for_selector("#lit-status:has-text('first.pdf (2 pages)')", timeout=10000)
    assert page.locator("#lit-summary h4:has-text('Results')").count() == 1
    with page.expect_download() as dl:  # the picked paper's own downloads
        page.click("#lit-md")
    assert dl.value.suggested_filename.startswith("summary-first")


def test_wrong_file_type_gets_a_message(page, tmp_path):
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.4 this is not really a pdf" * 20)
    page.get_by_role("tab", name="Literature").click()
    page.set_input_files("#lit-file input[type=file]", str(bad))
    page.wait_for_selector("#lit-status:has-text('⚠️')", timeout=30000)
    assert "damaged" in page.locator("#lit-status").inner_text()


def test_outline_tab_writes_every_section_and_exports_docx(page, server):
    page.get_by_role("tab", name="Outline").click()
    page.fill("#out-topic textarea", "Does nurse-led telephone follow-up reduce heart failure readmissions?")
    server["engine"].delay = 0.0
    try:
        page.click("#out-run")
        page.wait_for_selector("#out-status:has-text('Done')", timeout=60000)
    finally:
        server["engine"].delay = 0.02
    text = page.locator("#out-outline textarea").input_value()
    for section in ("## Title", "## Abstract", "## Introduction", "## Methods", "## Results", "## Discussion"):
        assert section in text
    page.click("#out-docx-btn")
    link = page.locator("#out-file a").first
    link.wait_for(timeout=10000)
    with page.expect_download() as dl:
        link.click()
    assert dl.value.suggested_filename.endswith(".docx")
    shot(page, "outline")


def test_oversized_upload_refused_by_the_server(page, server, tmp_path):
    big = tmp_path / "big.pdf"
    big.write_bytes(b"%PDF-1.4\n" + b"0" * (2 * 2**20))  # 2 MB; the limit here is 1 MB
    page.get_by_role("tab", name="Literature").click()
    page.set_input_files("#lit-file input[type=file]", str(big))
    refusal = page.locator("text=/exceed|too large|maximum/i").first
    refusal.wait_for(timeout=20000)
    SHOTS.mkdir(exist_ok=True)
    (SHOTS / "oversized-refusal.txt").write_text(refusal.inner_text())
    assert re.search(r"\b1(\.0)?\s*mb\b", refusal.inner_text(), re.I) and "big.pdf" in refusal.inner_text()
    assert page.locator("#lit-status:has-text('pages read')").count() == 0


def test_header_learns_the_model_is_ready_even_mid_build(browser, monkeypatch, tmp_path):
    """The model finished loading while the page was being built (after the header's status was written):
    the header must still say so, not 'Preparing' forever."""
    from medassist.app.__main__ import launch
    from medassist.app.config import AppConfig
    from medassist.app.service import ModelService
    from medassist.app.tabs import literature
    from medassist.app.ui import build_ui
    from medassist.store.history import History
    from tests.fake import ScriptedEngine

    cfg = AppConfig(language="en")
    service = ModelService(cfg)  # not ready: the header starts as "Preparing"
    real_build_tab = literature.build_tab

    def ready_meanwhile(*a, **k):
        service.engine = ScriptedEngine("ok")
        service._set("ready", "", 1.0, "")
        return real_build_tab(*a, **k)

    monkeypatch.setattr(literature, "build_tab", ready_meanwhile)
    demo = build_ui(service, History(tmp_path / "h.sqlite"), cfg)
    port = free_port()
    launch(demo, cfg, server_port=port, prevent_thread_lock=True)
    try:
        pg = browser.new_page()
        pg.goto(f"http://127.0.0.1:{port}")
        pg.wait_for_selector("#status:has-text('Model: scripted')", timeout=10000)
        pg.close()
    finally:
        demo.close()


def test_add_a_model_server_in_settings_and_answer_through_it(page, server):
    """A user adds a loopback OpenAI-compatible server in Settings, asks, and sees the answer stream from it with
    the remote model named in the header; then switches back to this computer's model."""
    from tests.sse_server import ScriptedServer, deltas

    words = [("reasoning_content", w + " ") for w in "Crushing central chest pain suggests ischaemia".split()]
    words += [("content", w + " ") for w in "Get a 12-lead ECG and a high-sensitivity troponin now.".split()]
    with ScriptedServer(lambda body: deltas(*words), models=("r1-distill-test",), delay=0.15) as srv:
        page.get_by_role("tab", name="Settings").click()
        page.locator("#models-add").get_by_text("Add a model server").click()
        page.fill("#models-url :is(input, textarea)", srv.url)
        page.click("#models-test")
        page.wait_for_selector("#models-message:has-text('Connected')", timeout=20000)
        page.click("#models-save")
        page.wait_for_selector("#status:has-text('runs on the server')", timeout=20000)
        header = page.locator("#status").inner_text()
        assert "r1-distill-test" in header and srv.url.split("//")[1].removesuffix("/v1") in header
        shot(page, "settings-models")
        page.get_by_role("tab", name="Q&A").click()
        base = chat_text_length(page)
        ask(page, "A 65-year-old with two hours of crushing chest pain: first test?")
        lengths = []
        while not page.locator("#stats:has-text('tokens/s')").count() and len(lengths) < 300:
            lengths.append(chat_text_length(page))
            page.wait_for_timeout(100)
        assert sum(1 for a, b in zip(lengths, lengths[1:]) if b > a) >= 3, lengths[:30]
        assert "high-sensitivity troponin now." in page.locator("#chat").inner_text()
        assert chat_text_length(page) > base and srv.requests and srv.requests[-1]["stream"] is True
    page.get_by_role("tab", name="Settings").click()
    page.click("#models-choice input")
    page.get_by_role("option", name="This computer · default model").click()
    page.click("#models-use")
    page.wait_for_selector("#status:has-text('runs on this computer')", timeout=20000)


def test_no_handler_is_a_public_api_and_other_host_names_are_refused(server):
    """Reading or deleting someone's data goes through the page only; /v1 is the documented API."""
    import json as _json
    import urllib.error
    import urllib.request

    def get(path, headers=None):
        req = urllib.request.Request(server["url"] + path, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    status, body = get("/gradio_api/info")
    assert status == 200 and _json.loads(body)["named_endpoints"] == {}
    cid = server["history"].save_turn(None, "kept", "a question", "an answer")
    for name in ("on_delete_all", "lambda", "respond"):  # what Gradio would name them if they were public
        req = urllib.request.Request(server["url"] + f"/gradio_api/call/{name}", method="POST",
                                     data=b'{"data": ["English", {}, {}]}', headers={"content-type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(req, timeout=10)
        assert refused.value.code == 403
    assert server["history"].exists(cid)
    assert get("/", {"Host": "attacker.example:80"})[0] == 400  # DNS rebinding
    assert get("/gradio_api/file=http://example.com/x.png")[0] == 403


def test_an_answer_cannot_make_the_page_fetch_from_another_machine(page, server):
    """A model (or a pasted text) that writes ![](http://…) or <img src=http://…>: shown as text, never loaded."""
    server["engine"].canned = ("Let me show <img src='http://203.0.113.7/t.png'> this. ",
                               "See ![scan](http://203.0.113.7/p.png) and <img src=\"http://203.0.113.7/q.png\"> "
                               "and <iframe src=//203.0.113.7/f></iframe> done.")
    try:
        ask(page, "Show me ![x](http://203.0.113.7/u.png) please")
        page.wait_for_selector("#stats:has-text('tokens/s')", timeout=30000)
        page.wait_for_timeout(500)
    finally:
        server["engine"].canned = None
    text = page.locator("#chat").inner_text()
    assert "[image not loaded: scan]" in text and "[image not loaded: x]" in text
    assert page.locator("#chat img[src*='203.0.113.7'], #chat iframe").count() == 0
    assert not [u for u in page.requests if "203.0.113.7" in u]
    assert all(u.startswith(server["url"]) for u in page.requests)


@pytest.fixture(scope="module")
def accounts_server(tiny_onnx_fp32, tmp_path_factory):
    """MedAssist with two accounts, as `medassist users add` makes them."""
    from medassist.app.__main__ import launch
    from medassist.app.accounts import account_of
    from medassist.app.config import AppConfig
    from medassist.app.service import ModelService
    from medassist.app.ui import build_ui
    from medassist.model.engine import load_engine
    from medassist.store.history import History
    from medassist.store.users import Users

    folder = tmp_path_factory.mktemp("accounts")
    users = Users(folder / "users.json")
    users.add("alice", "alice-password")
    users.add("bob", "bob-password")
    users.add("admin", "admin-password", admin=True)
    cfg = AppConfig(language="en", thinking_budget=16, max_new_tokens=16)
    real = load_engine(tiny_onnx_fp32, threads=1)
    real.decode = lambda ids: "".join(f" w{i}" for i in ids)
    history = History(folder / "history.sqlite", user=account_of(users))
    demo = build_ui(ModelService(cfg, engine=real), history, cfg, users)
    demo.queue(default_concurrency_limit=1)
    port = free_port()
    launch(demo, cfg, server_port=port, prevent_thread_lock=True, auth=users.verify)
    yield {"url": f"http://127.0.0.1:{port}", "history": history, "folder": folder}
    demo.close()


def login(browser, url, name, password):
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    pg = ctx.new_page()
    pg.goto(url)
    pg.locator("input[type=text], input:not([type])").first.fill(name)
    pg.locator("input[type=password]").fill(password)
    pg.get_by_role("button", name=re.compile("log ?in", re.I)).click()
    pg.wait_for_selector("#send", timeout=20000)
    return pg


def test_two_clinicians_see_only_their_own_history_and_library(browser, accounts_server):
    import sqlite3
    import urllib.error
    import urllib.request

    url = accounts_server["url"]
    alice = login(browser, url, "alice", "alice-password")
    ask(alice, "Alice's patient with chest pain")
    alice.wait_for_selector("#stats:has-text('tokens/s')", timeout=30000)
    bob = login(browser, url, "bob", "bob-password")
    ask(bob, "Bob's question about asthma")
    bob.wait_for_selector("#stats:has-text('tokens/s')", timeout=30000)
    for pg, mine, theirs in ((alice, "Alice's patient", "Bob's question"), (bob, "Bob's question", "Alice's patient")):
        pg.locator("#history").get_by_text("History").first.click()
        pg.click("#conversations input")
        options = pg.get_by_role("option").all_inner_texts()
        assert any(mine in o for o in options) and not any(theirs in o for o in options), options
        pg.keyboard.press("Escape")
    # Bob deletes all his data: Alice's stays
    bob.get_by_role("tab", name="Settings").click()
    bob.click("#delete-all")
    bob.click("#delete-all-yes")
    bob.wait_for_selector("#delete-all-confirm", state="hidden", timeout=5000)
    with sqlite3.connect(accounts_server["folder"] / "history.sqlite") as db:
        owners = [r[0] for r in db.execute("SELECT user FROM conversations")]
    assert owners == ["alice"]
    # no login, no data: the page's config and the queue refuse an anonymous client
    for path in ("/config", "/gradio_api/info"):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(url + path, timeout=10)
        assert err.value.code in (401, 403)
    # a wrong password does not log in
    ctx = browser.new_context()
    pg = ctx.new_page()
    pg.goto(url)
    pg.locator("input[type=text], input:not([type])").first.fill("alice")
    pg.locator("input[type=password]").fill("wrong-password")
    pg.get_by_role("button", name=re.compile("log ?in", re.I)).click()
    pg.wait_for_timeout(1500)
    assert pg.locator("#send").count() == 0
    ctx.close()


def test_an_admin_manages_accounts_and_no_one_else_sees_the_panel(browser, accounts_server):
    url = accounts_server["url"]
    alice = login(browser, url, "alice", "alice-password")
    alice.get_by_role("tab", name="Settings").click()
    alice.wait_for_selector("#delete-all", timeout=5000)
    assert alice.locator("#accounts").count() == 0 or not alice.locator("#accounts").is_visible()
    admin = login(browser, url, "admin", "admin-password")
    admin.get_by_role("tab", name="Settings").click()
    admin.locator("#accounts").get_by_text("Accounts (admin)").click()
    admin.wait_for_selector("#accounts-list:has-text('alice')", timeout=5000)
    admin.fill("#accounts-name :is(input, textarea)", "carol")
    admin.fill("#accounts-password :is(input, textarea)", "carol-password")
    admin.click("#accounts-add")
    admin.wait_for_selector("#accounts-list:has-text('carol')", timeout=5000)
    assert admin.locator("#accounts-password :is(input, textarea)").input_value() == ""
    carol = login(browser, url, "carol", "carol-password")  # the new account works at once
    assert carol.locator("#send").count() == 1
    admin.fill("#accounts-name :is(input, textarea)", "carol")
    admin.click("#accounts-remove")
    admin.wait_for_selector("#accounts-message:has-text('Removed: carol')", timeout=5000)


def test_answer_with_sources_citation_opens_its_passage(browser, tmp_path):
    """Sources on: the model's [1] is a button; clicking it opens the answer's sources with that passage marked,
    its source named and its URL shown as text (nothing fetched)."""
    from medassist.app.__main__ import launch
    from medassist.app.config import AppConfig
    from medassist.app.service import ModelService
    from medassist.app.ui import build_ui
    from medassist.papers.reference import Reference
    from medassist.store.history import History
    from tests.fake import HashEmbedder, ScriptedEngine
    from tests.test_sources import write_source

    ref = Reference(tmp_path / "index", HashEmbedder(), source=write_source(tmp_path / "ref.jsonl.xz"))
    ref.build(dense=False)  # words only, as in the first minute of a first start
    cfg = AppConfig(language="en")
    engine = ScriptedEngine("Chest pain first.</think>The most common heart attack symptom is chest pain or discomfort [1].",
                            judge=lambda passage, statement: 1.0)
    demo = build_ui(ModelService(cfg, engine=engine, embedder=HashEmbedder()), History(tmp_path / "h.sqlite"), cfg,
                    reference=ref)
    port = free_port()
    launch(demo, cfg, server_port=port, prevent_thread_lock=True)
    try:
        pg = browser.new_page()
        requests = []
        pg.on("request", lambda r: requests.append(r.url))
        pg.goto(f"http://127.0.0.1:{port}")
        pg.wait_for_selector("#sources input:checked")  # on by default
        pg.wait_for_selector("#sources:has-text('being indexed')")  # and says the reference is not ready yet
        ask(pg, "What are the symptoms of a heart attack?")
        pg.wait_for_selector("#chat button.src-cite", timeout=20000)
        assert not pg.is_visible("#chat details.sources li")  # closed until asked
        pg.click("#chat button.src-cite")
        hit = pg.wait_for_selector("#chat details.sources li.hit")
        assert "chest pain or discomfort" in hit.inner_text() and "https://example.org/0" in hit.inner_text()
        assert "CC BY 4.0" in pg.inner_text("#chat details.sources summary")
        assert "1 of 1 sentences are stated by a source" in pg.inner_text("#chat")  # the claim-level check ran
        pg.locator("#chat button[aria-label='Like']").last.click()  # feedback for the next fine-tune
        pg.wait_for_selector("#feedback-note:has-text('Rating saved.')", timeout=10000)
        assert "1 👍, 0 👎" in pg.inner_text("#feedback-note")
        pg.click("#feedback button.label-wrap")
        pg.fill("#correction textarea", "Chest pain or pressure, often spreading to the arm or jaw.")
        pg.click("#save-correction")
        pg.wait_for_selector("#feedback-note:has-text('Correction saved.')", timeout=10000)
        assert "0 👍, 1 👎, 1 corrected" in pg.inner_text("#feedback-note")
        # The buttons show what is stored: the correction made the 👍 a 👎 (the page had kept its own 👍 lit).
        pg.wait_for_selector("#chat button[aria-label='Disliked']", timeout=10000)
        assert pg.locator("#chat button[aria-label='Liked']").count() == 0
        assert any("<sources>" in p for p in engine.prompts)
        assert all(u.startswith(f"http://127.0.0.1:{port}") or u.startswith("data:") for u in requests)
        shot(pg, "qa-sources")
        pg.click("#new-chat")  # a new chat's answer carries no rating over from the last chat's
        ask(pg, "What are the symptoms of a heart attack?")
        pg.wait_for_selector("#chat button.src-cite", timeout=20000)
        pg.wait_for_selector("#chat button[aria-label='Dislike']", timeout=10000)
        assert pg.locator("#chat button[aria-label='Disliked']").count() == 0
        pg.close()
    finally:
        demo.close()
