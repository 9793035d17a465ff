"""MedAssist as an OpenAI-compatible server, checked with the official `openai` client: streaming and not,
reasoning in reasoning_content, the red-flag notice, API keys, the page on the same port, and --api-only."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

openai = pytest.importorskip("openai")

from tests.fake import ScriptedEngine  # noqa: E402

REPLY = "The pain is typical of cardiac ischaemia.</think>\n\nGet a 12-lead ECG and a troponin now."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(tmp_path, host="127.0.0.1", api_key=None, engine=None):
    os.environ["MEDASSIST_DATA"] = str(tmp_path / "data")
    from medassist.app.__main__ import api_router, launch
    from medassist.app.config import AppConfig
    from medassist.app.service import ModelService
    from medassist.app.ui import build_ui
    from medassist.store.history import History

    cfg = AppConfig(language="en", host=host)
    service = ModelService(cfg, engine=engine or ScriptedEngine(REPLY))
    history = History(cfg.history_path)
    demo = build_ui(service, history, cfg)
    demo.queue(default_concurrency_limit=1)
    port = free_port()
    # host only decides whether a key is needed; the test server itself listens on loopback
    launch(demo, cfg, api=api_router(service, history, cfg, api_key), server_name="127.0.0.1", server_port=port,
           prevent_thread_lock=True)
    return demo, history, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    demo, history, url = start_app(tmp_path_factory.mktemp("api"))
    yield {"url": url, "history": history}
    demo.close()


def client(url, key="none"):
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=30)


def test_models_and_a_plain_completion(app):
    c = client(app["url"])
    assert [m.id for m in c.models.list().data] == ["scripted"]
    r = c.chat.completions.create(model="scripted", messages=[{"role": "user", "content": "Chest pain: first test?"}])
    msg = r.choices[0].message
    assert msg.content == "Get a 12-lead ECG and a troponin now."
    assert msg.model_extra["reasoning_content"] == "The pain is typical of cardiac ischaemia."
    assert r.choices[0].finish_reason == "stop" and r.usage.completion_tokens > 0 and r.usage.prompt_tokens > 0
    assert r.model_extra["medassist"]["red_flags"] == []


def test_streaming_sends_reasoning_then_answer_and_usage(app):
    stream = client(app["url"]).chat.completions.create(
        model="scripted", messages=[{"role": "user", "content": "Chest pain: first test?"}], stream=True,
        stream_options={"include_usage": True})
    reasoning, content, finish, usage = "", "", None, None
    for ev in stream:
        if ev.usage:
            usage = ev.usage
        for ch in ev.choices:
            reasoning += (ch.delta.model_extra or {}).get("reasoning_content") or ""
            content += ch.delta.content or ""
            finish = ch.finish_reason or finish
    assert reasoning == "The pain is typical of cardiac ischaemia."
    assert content == "Get a 12-lead ECG and a troponin now." and finish == "stop" and usage.completion_tokens > 0


def test_red_flags_put_the_emergency_notice_first_and_nothing_is_stored_but_a_hash(app):
    q = "My father has crushing chest pain and cannot breathe"
    r = client(app["url"]).chat.completions.create(model="x", messages=[{"role": "user", "content": q}])
    assert r.model_extra["medassist"]["red_flags"]
    assert r.choices[0].message.content.startswith("🚨") and "ECG" in r.choices[0].message.content
    log = app["history"].audit.path.read_text()
    assert '"action": "api"' in log and "crushing" not in log and "father" not in log
    assert app["history"].conversations() == []  # API clients keep their own history


def test_bad_requests_get_a_clear_error(app):
    for body in (b"not json", json.dumps({"messages": [{"role": "assistant", "content": "hi"}]}).encode(),
                 json.dumps({"messages": [{"role": "user", "content": "q"}], "temperature": 9}).encode()):
        req = urllib.request.Request(app["url"] + "/v1/chat/completions", data=body,
                                     headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=10)
        assert err.value.code == 400 and "message" in json.loads(err.value.read())["error"]
    for msgs in ([{"role": "user", "content": "q"}] * 501, [{"role": "user", "content": "x" * 400_001}]):
        req = urllib.request.Request(app["url"] + "/v1/chat/completions", data=json.dumps({"messages": msgs}).encode(),
                                     headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=10)
        assert err.value.code == 413 and "At most" in json.loads(err.value.read())["error"]["message"]


def test_the_page_is_still_on_the_same_port(app):
    html = urllib.request.urlopen(app["url"] + "/", timeout=10).read().decode()
    assert "<html" in html.lower()


def test_medassist_can_answer_through_another_medassist(app):
    from medassist.model.endpoints import Endpoint
    from medassist.model.engine.remote import RemoteEngine

    r = RemoteEngine(Endpoint(url=app["url"], model="scripted")).generate(
        [{"role": "user", "content": "Chest pain: first test?"}], thinking_budget=256)
    assert (r.thinking, r.answer, r.think_end) == ("The pain is typical of cardiac ischaemia.",
                                                   "Get a 12-lead ECG and a troponin now.", "model")


def test_beyond_this_computer_a_key_is_required(tmp_path):
    demo, _, url = start_app(tmp_path / "a", host="0.0.0.0", api_key="s3cret")
    try:
        with pytest.raises(openai.AuthenticationError):
            client(url).chat.completions.create(model="x", messages=[{"role": "user", "content": "q"}])
        with pytest.raises(openai.AuthenticationError):
            client(url, "wrong").models.list()
        r = client(url, "s3cret").chat.completions.create(model="x", messages=[{"role": "user", "content": "q"}])
        assert "ECG" in r.choices[0].message.content
    finally:
        demo.close()
    demo, _, url = start_app(tmp_path / "b", host="0.0.0.0", api_key=None)
    try:
        with pytest.raises(openai.PermissionDeniedError, match="MEDASSIST_API_KEY"):
            client(url).chat.completions.create(model="x", messages=[{"role": "user", "content": "q"}])
    finally:
        demo.close()


def test_api_only_serves_a_real_model_without_the_page(tiny_onnx_fp32, tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDASSIST_")}
    env.update(MEDASSIST_DATA=str(tmp_path / "data"), MEDASSIST_HOME=str(tmp_path / "home"))
    proc = subprocess.Popen([sys.executable, "-m", "medassist.app", "--api-only", "--port", str(port),
                             "--model-path", str(tiny_onnx_fp32), "--no-open-browser", "--threads", "1"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        c = client(f"http://127.0.0.1:{port}")
        for _ in range(120):
            try:
                if c.models.list().data[0].model_extra["ready"]:
                    break
            except openai.APIConnectionError:
                pass
            time.sleep(0.5)
        stream = c.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "Fever and cough?"}],
                                           stream=True, max_tokens=8, extra_body={"thinking_budget": 8})
        events = list(stream)
        assert events[-1].choices[0].finish_reason in ("stop", "length")
        assert sum(1 for e in events if e.choices and (e.choices[0].delta.content or
                                                        (e.choices[0].delta.model_extra or {}).get("reasoning_content"))) > 0
        with pytest.raises(urllib.error.HTTPError) as err:  # no page in this mode
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)
        assert err.value.code == 404
    finally:
        proc.terminate()
        out = proc.communicate(timeout=20)[0]
    assert "Traceback" not in out, out
