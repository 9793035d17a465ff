"""App pieces without a browser: first-run preparation, the Q&A handler, and the UI/model boundary."""
import json
import subprocess
import sys

from medassist.app.config import AppConfig
from medassist.store.history import History
from medassist.app.tabs.qa import new_state, regenerate, respond
from medassist.app.service import ModelService
from tests.fake import ScriptedEngine


def run(gen):
    return list(gen)[-1]


def test_first_run_builds_with_progress_then_serves(tiny_hf):
    service = ModelService(AppConfig(model=str(tiny_hf), precision="int4", threads=1))
    seen = []
    real_set = service._set
    service._set = lambda *a: (seen.append(a[0]), real_set(*a))
    assert service.start().wait(300), service.status
    assert "building" in seen and seen[-1] == "ready"
    assert service.describe().endswith("int4 · onnx")
    # The system prompt was read at load: the first question reads only itself.
    from medassist.model import chat as chat_format

    r = service.generate([{"role": "user", "content": "Hi"}], system=chat_format.system_prompt(service.cfg.lang),
                         thinking_budget=0, max_new_tokens=2)
    assert r.cached_tokens > 100 and r.prompt_tokens - r.cached_tokens < 24  # "Hi" and the template around it
    # A second start finds the built model and does not build again.
    again = ModelService(AppConfig(model=str(tiny_hf), precision="int4", threads=1))
    assert again.start().wait(120) and again.status.state == "ready"


def test_build_failure_is_shown_not_raised(tmp_path):
    service = ModelService(AppConfig(model=str(tmp_path / "nope"), threads=1))
    service.start().wait(120)
    assert service.status.state == "error" and "Unknown base" in service.status.message


def test_the_model_is_busy_while_it_answers_and_just_after(monkeypatch):
    import medassist.app.service as S

    service = ModelService(AppConfig(), engine=ScriptedEngine("Consider ACS.</think>Call 120 now."))
    assert not service.busy()  # nothing asked yet: background indexing may run
    stream = service.stream([{"role": "user", "content": "chest pain"}], max_new_tokens=8)
    next(stream)
    assert service.busy() and service.engine._lock.locked()
    list(stream)
    assert not service.engine._lock.locked() and service.busy()  # a summary's next field comes in a moment
    monkeypatch.setattr(S, "IDLE_S", 0.0)
    assert not service.busy()


def test_respond_streams_saves_redacted_history_and_flags(tmp_path):
    history = History(tmp_path / "h.sqlite")
    service = ModelService(AppConfig(), engine=ScriptedEngine("Consider ACS.</think>Call 120 now."))
    state = new_state()
    q = "Crushing chest pain radiating to the left arm; phone 13812345678"
    steps = list(respond(service, history, q, [], state, 64, 0.6, 64, "English"))
    chat, box, banner, stats, state = steps[-1]
    assert len(steps) > 2 and box == ""
    assert banner["visible"] and "Possible emergency" in banner["value"]
    assert chat[1]["metadata"]["title"] == "Reasoning" and chat[1]["content"] == "Consider ACS."
    assert chat[2]["content"] == "Call 120 now." and "tokens/s" in stats
    saved = history.messages(state["cid"])
    assert "[PHONE]" in saved[0]["content"] and "13812345678" not in saved[0]["content"]
    assert saved[1]["thinking"] == "Consider ACS."
    (entry,) = history.audit.entries()
    assert entry["action"] == "ask" and entry["red_flags"] == 1 and "cardiac" not in json.dumps(entry) and "13812345678" not in json.dumps(entry)
    # Regenerate replaces the last answer instead of appending a second one.
    chat2 = run(regenerate(service, history, chat, state, 64, 0.6, 64, "English"))[0]
    assert [m["role"] for m in chat2].count("user") == 1 and len(state["messages"]) == 2
    # The page sends a message's content back as a list of parts: regenerate asks the question that was sent.
    paged = [{**m, "content": [{"type": "text", "text": m["content"]}]} for m in chat2]
    chat3 = run(regenerate(service, history, paged, state, 64, 0.6, 64, "English"))[0]
    assert engine_prompt_has(service, q) and [m["role"] for m in chat3].count("user") == 1


def engine_prompt_has(service, text: str) -> bool:
    return text in service.engine.last_prompt


def test_a_follow_up_sends_back_what_the_model_wrote(tmp_path):
    """The past answer goes back with its reasoning, in the trained format, so the engine's kept state covers it
    and only the new question is read."""
    history = History(tmp_path / "h.sqlite")
    engine = ScriptedEngine("Consider ACS.</think>Call 120 now.")
    service = ModelService(AppConfig(), engine=engine)
    state = new_state()
    chat = run(respond(service, history, "Chest pain?", [], state, 64, 0.6, 64, "English"))[0]
    run(respond(service, history, "And then?", chat, state, 64, 0.6, 64, "English"))
    assert "<user>Chest pain?<assistant><think>\nConsider ACS.\n</think>\n\nCall 120 now.<user>And then?" \
        in engine.last_prompt


def test_empty_and_not_ready_questions_lose_nothing(tmp_path):
    history = History(tmp_path / "h.sqlite")
    not_ready = ModelService(AppConfig())
    chat, box, *_ = run(respond(not_ready, history, "What is sepsis?", [], new_state(), 64, 0.6, 64, "中文"))
    assert box == "What is sepsis?" and "模型仍在准备中" in chat[-1]["content"]
    assert history.conversations() == []


def test_serving_off_this_computer_requires_a_password_never_from_argv(tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if k != "MEDASSIST_PASSWORD"}
    r = subprocess.run([sys.executable, "-m", "medassist.app", "--host", "0.0.0.0", "--no-open-browser"],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode != 0 and "MEDASSIST_PASSWORD" in r.stderr and "--password-file" in r.stderr
    r = subprocess.run([sys.executable, "-m", "medassist.app", "--host", "0.0.0.0", "--password", "hunter2"],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode != 0 and "unrecognized arguments: --password" in r.stderr  # a secret on argv is refused
    r = subprocess.run([sys.executable, "-m", "medassist.app", "--host", "0.0.0.0", "--password-file",
                        str(tmp_path / "missing")], capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode != 0 and "cannot read the password file" in r.stderr
    r = subprocess.run([sys.executable, "-m", "medassist.app", "--certfile", "c.pem"], capture_output=True, text=True,
                       timeout=60, env=env)
    assert r.returncode != 0 and "both --certfile and --keyfile" in r.stderr


def test_host_guard_refuses_other_host_names_and_remote_file_urls():
    """DNS rebinding (a page elsewhere whose name resolves to 127.0.0.1) and file=http… fetches get nothing."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from medassist.app.__main__ import HostGuard, allowed_hosts

    inner = FastAPI()
    inner.get("/{path:path}")(lambda path: {"ok": path})
    app = HostGuard(inner, allowed_hosts(AppConfig(allowed_hosts="medassist.ward7.local")))
    client = TestClient(app, base_url="http://127.0.0.1:7860")
    assert client.get("/config").json() == {"ok": "config"}
    assert client.get("/config", headers={"host": "medassist.ward7.local:7860"}).status_code == 200
    assert client.get("/config", headers={"host": "localhost"}).status_code == 200
    r = client.get("/config", headers={"host": "evil.example.com:7860"})
    assert r.status_code == 400 and "ok" not in r.text
    assert client.get("/gradio_api/file=http://169.254.169.254/latest").status_code == 403
    import psutil
    import socket

    everywhere = allowed_hosts(AppConfig(host="0.0.0.0"))
    mine = [a.address for addrs in psutil.net_if_addrs().values() for a in addrs if a.family == socket.AF_INET]
    assert mine and all(ip in everywhere for ip in mine)  # a LAN client browsing to this machine's address


def test_the_page_gets_the_frame_cap_first_and_nothing_else_changes():
    """The page's HTML gets FRAME_CAP at the top of <head> (before Gradio's module scripts), with a right
    Content-Length; other routes, other methods and non-HTML answers pass through byte for byte."""
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse, PlainTextResponse
    from fastapi.testclient import TestClient

    from medassist.app.__main__ import FRAME_CAP, PageScript

    page = ('<!doctype html><html><head><script type="module" src="./assets/index.js"></script></head>'
            '<body>医</body></html>')
    inner = FastAPI()
    inner.get("/")(lambda: HTMLResponse(page))
    inner.get("/other")(lambda: HTMLResponse(page))
    inner.post("/")(lambda: HTMLResponse(page))
    inner.get("/assets/index.js")(lambda: PlainTextResponse("<head>"))
    client = TestClient(PageScript(inner))
    r = client.get("/")
    assert r.status_code == 200 and r.content.count(FRAME_CAP) == 1
    assert r.content.index(FRAME_CAP) < r.content.index(b'type="module"')
    assert r.content.replace(FRAME_CAP, b"") == page.encode() and int(r.headers["content-length"]) == len(r.content)
    assert client.get("/other").content == page.encode() and client.post("/").content == page.encode()
    assert client.get("/assets/index.js").text == "<head>"


def test_reasoning_cut_short_says_why(tmp_path):
    history = History(tmp_path / "h.sqlite")
    loop = ScriptedEngine("Check the ECG again and again. " * 20)
    loop.after_force = "Get an ECG."
    service = ModelService(AppConfig(), engine=loop)
    chat = run(respond(service, history, "Chest pain?", [], new_state(), 2000, 0.6, 64, "English"))[0]
    assert chat[1]["content"].endswith("(Reasoning stopped early: it was repeating itself.)")
    assert chat[2]["content"] == "Get an ECG."
    budget = ModelService(AppConfig(), engine=ScriptedEngine("Weighing causes: " + "abcdefghij" * 3 + "</think>A"))
    chat = run(respond(budget, history, "Chest pain?", [], new_state(), 16, 0.6, 64, "中文"))[0]
    assert chat[1]["content"].endswith("（推理已达到思考预算；可在生成设置中调高。）")


def test_repetition_penalty_setting_reaches_the_engine(tmp_path):
    engine = ScriptedEngine("Consider ACS.</think>Get an ECG.")
    service = ModelService(AppConfig(repetition_penalty=1.1), engine=engine)
    run(respond(service, History(tmp_path / "h.sqlite"), "Chest pain?", [], new_state(), 256, 0.6, 64, "English"))
    assert engine.last_penalty == 1.1
    run(respond(service, History(tmp_path / "h.sqlite"), "Chest pain?", [], new_state(), 256, 0.6, 64, "English", 1.3))
    assert engine.last_penalty == 1.3  # the slider in Generation settings wins over the settings file


def test_history_list_preselects_nothing(tmp_path):
    """Export and Delete act on the chosen conversation, else the one on screen: never on one Gradio picked."""
    from medassist.app.ui import build_ui

    history = History(tmp_path / "h.sqlite")
    history.new_conversation("An older conversation")
    demo = build_ui(ModelService(AppConfig(language="en"), engine=ScriptedEngine("ok")), history, AppConfig(language="en"))
    (dropdown,) = [b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "conversations"]
    assert dropdown.value is None and len(dropdown.choices) == 1


def test_deleting_the_open_conversation_resets_the_session(tmp_path):
    """Deleted text is never sent to the model again, and the next answer is saved (no foreign-key error)."""
    from medassist.app.tabs.qa import delete_conversation

    history = History(tmp_path / "h.sqlite")
    engine = ScriptedEngine("Think.</think>An answer.")
    service = ModelService(AppConfig(), engine=engine)
    state = new_state()
    chat = run(respond(service, history, "Patient Zhang, secret history of X", [], state, 64, 0.6, 64, "English"))[0]
    chat, state = delete_conversation(history, state["cid"], chat, state)
    assert chat == [] and state["cid"] is None and history.conversations() == []
    chat, _, _, stats, state = run(respond(service, history, "A new question", chat, state, 64, 0.6, 64, "English"))
    assert "secret history" not in engine.last_prompt and "tokens/s" in stats
    assert [m["content"] for m in history.messages(state["cid"])] == ["A new question", "An answer."]


def test_a_conversation_deleted_in_another_tab_is_not_resent(tmp_path):
    history = History(tmp_path / "h.sqlite")
    engine = ScriptedEngine("An answer.")
    service = ModelService(AppConfig(), engine=engine)
    state = new_state()
    run(respond(service, history, "First: the deleted text", [], state, 0, 0.6, 64, "English"))
    history.delete_all()  # "Delete all my data" from another tab: this tab's state still holds the old turns
    chat, _, _, stats, state = run(respond(service, history, "Second question", [{"role": "user", "content": "x"}],
                                           state, 0, 0.6, 64, "English"))
    assert "deleted text" not in engine.last_prompt and chat[0]["content"] == "Second question"
    assert len(history.conversations()) == 1 and "tokens/s" in stats


def test_a_storage_failure_keeps_the_answer_on_screen(tmp_path, monkeypatch):
    import sqlite3

    history = History(tmp_path / "h.sqlite")
    service = ModelService(AppConfig(), engine=ScriptedEngine("Think.</think>Keep me."))

    def full(*a, **k):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(history, "save_turn", full)
    for lang, words in (("English", "disk is full"), ("中文", "磁盘已满")):
        state = new_state()
        chat, box, _, stats, state = run(respond(service, history, "What now?", [], state, 64, 0.6, 64, lang))
        assert chat[-1]["content"] == "Keep me." and box == "" and words in stats and "Traceback" not in stats
    monkeypatch.setattr(history, "save_turn", lambda *a, **k: (_ for _ in ()).throw(
        sqlite3.OperationalError("database is locked")))
    stats = run(respond(service, history, "Again?", [], new_state(), 64, 0.6, 64, "English"))[3]
    assert "in use by another program" in stats


def test_ask_this_paper_after_delete_all_saves_a_new_conversation(tmp_path):
    from medassist.app.tabs import literature

    history = History(tmp_path / "h.sqlite")
    service = ModelService(AppConfig(), engine=ScriptedEngine("It says 5 mg [p. 1]."))
    state = literature.new_state()
    state["cid"] = history.save_turn(None, "📄 paper", "summarise", "summary")
    history.delete_all()
    from medassist.papers.passages import PaperIndex
    from medassist.papers.pdfread import Paper, Paragraph, Section
    from tests.fake import HashEmbedder

    paper = Paper(title="A paper", pages=1, sections=[Section("Results", "results", [Paragraph(1, "Patients received the study drug once daily for twelve weeks. The dose was 5 mg in every arm of the trial.")])],
                  references=[], abstract={}, skipped_pages=[])
    index = PaperIndex.build(paper, HashEmbedder())
    state["index"] = index
    monkey = literature.answer_question
    literature.answer_question = lambda *a, **k: iter(["It says 5 mg [p. 1]."])
    try:
        out = list(literature.ask_paper(service, history, "What dose?", "English", "English", state))
    finally:
        literature.answer_question = monkey
    assert "⚠️" not in out[-1][0] and history.exists(state["cid"])
    assert [m["content"] for m in history.messages(state["cid"])] == ["What dose?", "It says 5 mg [p. 1]."]


def test_no_remote_writes_embedded_resources_out_as_text():
    from medassist.app.safe import no_remote

    assert no_remote("See ![scan](http://203.0.113.9/p.png).") == "See [image not loaded: scan]."
    assert no_remote("![](//evil/p.png)") == "[image not loaded: image]"
    assert "<img" not in no_remote('a <img src="http://x/p.png"> b') and no_remote("<IMG SRC=x") == "&lt;IMG SRC=x"
    assert "<iframe" not in no_remote("<iframe src=http://x>") and "url(blocked:" in no_remote("url('http://x/a.png')")
    kept = "A [link](https://pubmed.ncbi.nlm.nih.gov/1) stays a link; 5 < 7 stays; a ![local](p.png) is left."
    assert no_remote(kept) == kept
