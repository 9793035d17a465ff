"""The Literature tab's handlers, driven without a browser: summary, errors, exports, history, ask-this-paper."""
import json
import re

import pymupdf
import pytest

from medassist.app.tabs import literature as L
from medassist.app.config import AppConfig
from medassist.store.history import History
from medassist.app.service import ModelService
from tests.fake import HashEmbedder, ScriptedEngine
from tests.pdfs import two_column_paper


def reply(prompt: str) -> str:
    if "Question:" in prompt:
        return "<paper> Readmissions fell from 41 to 18 [p. 2], and 99 patients died [p. 2]."  # it echoes the block
    return "- Readmissions fell from 41 to 18 of 120 patients (MRN: 12345678) [p. 2].\n- It saved 77 lives [p. 2].\n"


@pytest.fixture
def env(tmp_path):
    cfg = AppConfig(language="en")
    service = ModelService(cfg, engine=ScriptedEngine(reply), embedder=HashEmbedder())
    return cfg, service, History(tmp_path / "data" / "h.sqlite")


def summarise(env, path, lang="English"):
    cfg, service, history = env
    state = L.new_state()
    outs = list(L.run_summary(service, history, cfg, str(path) if path else None, lang, "English", state, progress=lambda *a, **k: None))
    return outs, state


def test_summary_end_to_end(env, tmp_path):
    cfg, service, history = env
    # A case report may carry an identifier; the model may repeat it; nothing written to disk keeps it.
    outs, state = summarise(env, two_column_paper(tmp_path / "paper.pdf", injected=" Patient MRN: 12345678."))
    status, html, md, js, _ = outs[-1]
    assert status.startswith("✅")
    assert len(outs) > 6  # progress and partial results were streamed
    assert html.count('class="cite"') >= 5 and '<template data-page="2">' in html
    assert "Readmissions fell from 41 to 18" in html and "77 lives" in html  # shown struck through, as removed
    assert "<s>It saved 77 lives.</s>" in html
    md_text = open(md["value"], encoding="utf-8").read()
    data = json.loads(open(js["value"], encoding="utf-8").read())
    assert "## Results" in md_text and "[MRN]" in md_text and "12345678" not in md_text  # exports are redacted
    assert data["dropped"] and all(b["pages"] for bs in data["fields"].values() for b in bs)
    assert data["identifiers_redacted"] and "were redacted" in md_text  # exports say so
    conv = history.conversations()[0]
    assert conv["title"].startswith("📄 Nurse-led follow-up")
    stored = history.messages(conv["id"])[-1]["content"]
    assert "## Background" in stored and "12345678" not in stored
    entry = [e for e in history.audit.entries() if e["action"] == "summarize"][0]
    assert entry["pages"] == 2 and "Readmissions" not in json.dumps(entry)  # a hash, not the paper


def test_summary_in_chinese(env, tmp_path):
    outs, _ = summarise(env, two_column_paper(tmp_path / "paper.pdf"), lang="中文")
    assert "<h4>背景</h4>" in outs[-1][1]


def write(folder, name, data: bytes):
    (folder / name).write_bytes(data)
    return folder / name


@pytest.mark.parametrize("make,expect", [
    (lambda p: None, "Upload a paper first"),
    (lambda p: write(p, "notes.csv", b"hello"), "is not a paper file"),
    (lambda p: write(p, "notes.txt", b"hello"), "almost no text"),
    (lambda p: write(p, "empty.pdf", b""), "empty"),
    (lambda p: write(p, "junk.pdf", b"%PDF-1.4 garbage " * 10), "damaged"),
])
def test_bad_uploads_get_a_clear_message(env, tmp_path, make, expect):
    outs, state = summarise(env, make(tmp_path))
    status = outs[-1][0]
    assert status.startswith("⚠️") and expect.lower() in status.lower() and "Traceback" not in status
    assert state["index"] is None


def test_encrypted_pdf(env, tmp_path):
    doc = pymupdf.open(two_column_paper(tmp_path / "p.pdf"))
    doc.save(tmp_path / "locked.pdf", encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="secret", owner_pw="o")
    status = summarise(env, tmp_path / "locked.pdf")[0][-1][0]
    assert status.startswith("⚠️") and "password" in status.lower()


def test_oversized_upload_refused_before_reading(env, tmp_path, monkeypatch):
    cfg, service, history = env
    cfg.max_pdf_mb = 0.001
    monkeypatch.setattr(L, "read_paper", lambda *a, **k: pytest.fail("an oversized file must not be read"))
    status = summarise(env, two_column_paper(tmp_path / "big.pdf"))[0][-1][0]
    assert "limit is 0.001 MB" in status


def test_model_not_ready(tmp_path):
    cfg = AppConfig(language="en")
    env = (cfg, ModelService(cfg, embedder=HashEmbedder()), History(tmp_path / "h.sqlite"))
    status = summarise(env, two_column_paper(tmp_path / "p.pdf"))[0][-1][0]
    assert "still being prepared" in status


def test_stop_keeps_what_was_written(env, tmp_path):
    cfg, service, history = env
    state = L.new_state()
    outs = []
    for out in L.run_summary(service, history, cfg, str(two_column_paper(tmp_path / "p.pdf")), "English", "English",
                             state, progress=lambda *a, **k: None):
        outs.append(out)
        if "Methods" in str(out[0]):  # the user presses Stop while the second field is written
            state["cancel"].set()
    status, html = outs[-1][0], outs[-1][1]
    assert status.startswith("Stopped") and "<h4>Background</h4>" in html
    assert "<h4>Results</h4>" not in html


def test_ask_this_paper(env, tmp_path):
    cfg, service, history = env
    state = L.new_state()
    first = list(L.ask_paper(service, history, "How many?", "English", "English", state))
    assert "Upload a paper first" in first[-1][0]
    status, state = L.load_paper(service, cfg, str(two_column_paper(tmp_path / "p.pdf")), "English", state)
    assert "2 pages read" in status
    html, box = list(L.ask_paper(service, history, "How many readmissions?", "English", "English", state))[-1]
    assert box == "" and re.search(r'<button class="cite" data-page="2"', html)
    assert "not in the paper" in html and "99" in html  # a number the paper does not contain is flagged
    assert "paper&gt;" not in html and "<paper>" not in history.messages(state["cid"])[-1]["content"]
    prompt = service.engine.prompts[-1]
    assert "Question: How many readmissions?" in prompt and "[p. 2]" in prompt


def test_citation_to_a_page_that_does_not_exist_is_plain_text(env, tmp_path):
    cfg, service, _ = env
    _, state = L.load_paper(service, cfg, str(two_column_paper(tmp_path / "p.pdf")), "English", L.new_state())
    html = L.render_answer(state["index"], "Claim [p. 40]. Other <b>claim</b> [p. 1].")
    assert 'data-page="40"' not in html and "[p. 40]" in html and 'data-page="1"' in html
    assert "&lt;b&gt;" in html  # model text is escaped, never raw HTML


MD_PAPER = ("# Colchicine after myocardial infarction\n\n## Abstract\nA randomised trial of colchicine in 400 patients "
            "after myocardial infarction. Readmissions fell from 41 to 18 in the colchicine arm.\n\n## Methods\n"
            "Patients were randomised to colchicine or placebo and followed for one year in three hospitals.\n\n"
            "## Results\nReadmissions fell from 41 to 18 of 120 patients; no serious adverse events occurred.\n")


def test_several_papers_at_once(env, tmp_path):
    cfg, service, history = env
    (tmp_path / "b.md").write_text(MD_PAPER, encoding="utf-8")
    (tmp_path / "bad.csv").write_text("a,b\n", encoding="utf-8")
    files = [str(two_column_paper(tmp_path / "a.pdf")), str(tmp_path / "bad.csv"), str(tmp_path / "b.md")]
    state = L.new_state()
    status, state = L.load_paper(service, cfg, files, "English", state)
    assert "2 papers read: a.pdf, b.md" in status and "⚠️ bad.csv is not a paper file" in status
    assert L.picker(state)["visible"] and L.picker(state)["choices"] == [("a.pdf", 0), ("b.md", 1)]
    outs = list(L.run_summary(service, history, cfg, files, "English", "English", state, progress=lambda *a, **k: None))
    statuses = [o[0] for o in outs if isinstance(o[0], str)]
    assert any(s.startswith("(1/2) a.pdf · ") for s in statuses) and any(s.startswith("(2/2) b.md · ") for s in statuses)
    assert outs[-1][0].startswith("(2/2) b.md · ✅") and "bad.csv" in outs[-1][0]  # the unreadable one is named at the end
    assert [c["title"] for c in history.conversations()] == ["📄 Colchicine after myocardial infarction",
                                                             "📄 Nurse-led follow-up in heart failure: a cohort study"]
    assert state["name"] == "b.md" and L.picker(state)["value"] == 1
    status, view, md, js, state = L.show_paper(0, "English", "English", state)  # the first paper's summary again
    assert status.startswith("📄 a.pdf (2 pages)") and "Nurse-led follow-up" in view and md["visible"] and "summary-a" in md["value"]
    html = list(L.ask_paper(service, history, "How many readmissions?", "English", "English", state))[-1][0]
    assert 'data-page="2"' in html  # asked of the picked paper


def test_stop_ends_the_run_and_the_next_run_is_not_stopped(env, tmp_path):
    cfg, service, history = env
    (tmp_path / "b.md").write_text(MD_PAPER, encoding="utf-8")
    files = [str(two_column_paper(tmp_path / "a.pdf")), str(tmp_path / "b.md")]
    state = L.new_state()
    for out in L.run_summary(service, history, cfg, files, "English", "English", state, progress=lambda *a, **k: None):
        if "Methods" in str(out[0]):
            state["cancel"].set()
    assert len(history.conversations()) == 1 and state["papers"][1]["summary"] is None  # the second was not begun
    outs = list(L.run_summary(service, history, cfg, files, "English", "English", state, progress=lambda *a, **k: None))
    assert outs[-1][0].startswith("(2/2) b.md · ✅") and len(history.conversations()) == 3
