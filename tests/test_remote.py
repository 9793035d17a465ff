"""The remote engine against scripted OpenAI-compatible streams: every reasoning dialect, budgets kept
client-side, stop, and each server failure as one clear sentence. (A real server: test_remote_llamacpp.py.)"""
from __future__ import annotations

import json
import socket
import threading

import pytest

pytest.importorskip("openai")

from medassist.model.endpoints import Endpoint, Endpoints, list_models, normalize_url  # noqa: E402
from medassist.model.engine.remote import RemoteEngine, RemoteError, estimate_tokens  # noqa: E402
from tests.sse_server import ScriptedServer, deltas, recorded  # noqa: E402

Q = [{"role": "user", "content": "65-year-old, two hours of crushing chest pain. First test?"}]


def engine(srv, model="m", **kw):
    return RemoteEngine(Endpoint(url=srv.url, model=model, **kw))


def test_vllm_reasoning_content_stream_is_split_into_thinking_and_answer():
    with ScriptedServer(lambda body: recorded("vllm_reasoning_content.txt")) as srv:
        e = engine(srv, model="deepseek-ai/DeepSeek-R1-Distill-Qwen-7B")
        chunks = list(e.stream(Q, system="Be careful.", thinking_budget=512))
    thinking = "".join(c.text for c in chunks if c.phase == "thinking")
    answer = "".join(c.text for c in chunks if c.phase == "answer")
    assert thinking == "Crushing chest pain for two hours, radiating to the left shoulder: acute coronary syndrome until proven otherwise."
    assert answer == "Get a 12-lead ECG within 10 minutes and a high-sensitivity troponin."
    last = chunks[-1]
    assert last.finish_reason == "stop" and last.think_end == "model"
    assert last.prompt_tokens == 41  # the server's usage figure, sent after the last delta
    assert last.generated_tokens == 34 and last.ttft_s is not None and last.tokens_per_s >= 0
    sent = srv.requests[0]
    assert sent["stream"] is True and sent["model"] == "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"
    assert sent["messages"][0] == {"role": "system", "content": "Be careful."}
    assert sent["max_tokens"] == 512 + 768  # reasoning + answer


@pytest.mark.parametrize("pieces, model", [
    ((("reasoning", "Think "), ("reasoning", "hard."), ("content", "ECG.")), "llama3"),  # Ollama / vLLM >= 0.10
    ((("content", "<think>Think "), ("content", "hard.</thi"), ("content", "nk>\n\nECG.")), "llama3"),  # tags in text
    ((("content", "Think "), ("content", "hard.\n</think>\n\n"), ("content", "ECG.")), "DeepSeek-R1-Distill-Qwen-1.5B"),
])
def test_every_reasoning_dialect(pieces, model):
    with ScriptedServer(lambda body: deltas(*pieces)) as srv:
        r = engine(srv, model=model).generate(Q, thinking_budget=64)
    assert (r.thinking.strip(), r.answer, r.think_end, r.finish_reason) == ("Think hard.", "ECG.", "model", "stop")


def test_plain_model_has_no_reasoning():
    with ScriptedServer(lambda body: deltas(("content", "An "), ("content", "ECG."))) as srv:
        r = engine(srv, model="qwen2.5-0.5b-instruct").generate(Q)
    assert (r.thinking, r.answer, r.think_end) == ("", "An ECG.", None)


def test_thinking_budget_closes_the_stream_and_asks_for_the_answer():
    def reply(body):
        if len(body["messages"]) == 1:  # the question: reasoning that never ends
            return deltas(*[("reasoning_content", f"step {i}. ") for i in range(200)], ("content", "never shown"))
        return deltas(("content", "ECG and troponin."))

    with ScriptedServer(reply, delay=0.002) as srv:
        r = engine(srv).generate(Q, thinking_budget=20)
    assert r.think_end == "budget" and r.answer == "ECG and troponin." and r.finish_reason == "stop"
    assert r.thinking == "".join(f"step {i}. " for i in range(20))
    assert srv.closed_early.wait(2)  # the first stream was closed, not read to the end
    ask = srv.requests[1]["messages"][-1]
    assert ask["role"] == "user" and "step 19." in ask["content"] and "final answer" in ask["content"]


def test_loop_guard_spots_repeating_reasoning():
    loop = [("reasoning_content", w) for w in "the patient has pain so we check the heart again and".split()] * 20

    def reply(body):
        return deltas(*loop) if len(body["messages"]) == 1 else deltas(("content", "ECG."))

    with ScriptedServer(reply) as srv:
        r = engine(srv).generate(Q, thinking_budget=4096)
    assert r.think_end == "loop" and r.answer == "ECG."
    with ScriptedServer(reply) as srv:
        r = engine(srv).generate(Q, thinking_budget=4096, loop_guard=False)
    assert r.think_end == "eos" and r.answer == "ECG."  # ran out inside its reasoning: asked for the answer


def test_no_reasoning_wanted_hides_it():
    with ScriptedServer(lambda body: deltas(("reasoning_content", "hmm"), ("content", "Summary."))) as srv:
        chunks = list(engine(srv).stream(Q, thinking_budget=0))
    assert [c.phase for c in chunks if c.text] == ["answer"] and chunks[-1].finish_reason == "stop"


def test_answer_length_and_stop_strings():
    with ScriptedServer(lambda body: deltas(*[("content", f"w{i} ") for i in range(50)])) as srv:
        r = engine(srv).generate(Q, max_new_tokens=5, thinking_budget=0)
        assert r.answer == "w0 w1 w2 w3 w4 " and r.finish_reason == "length"
        r = engine(srv).generate(Q, stop=["w3"], thinking_budget=0)
        assert r.answer == "w0 w1 w2 " and r.finish_reason == "stop_string"


def test_stop_closes_the_http_stream():
    cancel = threading.Event()
    with ScriptedServer(lambda body: deltas(*[("content", "word ")] * 2000), delay=0.01) as srv:
        got = []
        for c in engine(srv).stream(Q, cancel=cancel, thinking_budget=0, max_new_tokens=4000):
            got.append(c)
            if len(got) == 3:
                cancel.set()
        assert got[-1].finish_reason == "cancelled" and len(got) < 10
        assert srv.closed_early.wait(3)


def test_stop_while_the_server_is_still_reading_the_prompt():
    cancel = threading.Event()
    gate = threading.Event()

    def slow(body):
        gate.wait(5)  # the server says nothing for a while (a long prompt on a CPU)
        return deltas(("content", "late"))

    with ScriptedServer(slow) as srv:
        threading.Timer(0.3, cancel.set).start()
        r = engine(srv).generate(Q, cancel=cancel)
        gate.set()
    assert r.finish_reason == "cancelled" and r.answer == ""


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("status, body, code", [
    (401, {"error": {"message": "Invalid API key"}}, "auth"),
    (404, {"error": {"message": "The model `x` does not exist."}}, "not_found"),
    (429, {"error": {"message": "Too many requests"}}, "rate_limit"),
    (400, {"error": {"message": "This model's maximum context length is 4096 tokens. However, you requested 9000"}}, "context"),
    (400, {"error": {"message": "the request exceeds the available context size, try increasing it"}}, "context"),
    (500, {"error": {"message": "CUDA out of memory"}}, "server"),
])
def test_server_errors_become_one_sentence(status, body, code):
    with ScriptedServer(lambda b: (status, body)) as srv:
        with pytest.raises(RemoteError) as err:
            engine(srv).generate(Q)
    assert err.value.code == code and "127.0.0.1" in str(err.value) and "Traceback" not in str(err.value)


def test_refused_and_timeout():
    e = RemoteEngine(Endpoint(url=f"http://127.0.0.1:{closed_port()}", model="m"))
    with pytest.raises(RemoteError) as err:
        e.generate(Q)
    assert err.value.code == "refused" and "could not be reached" in str(err.value)
    gate = threading.Event()
    with ScriptedServer(lambda body: (gate.wait(5), deltas(("content", "x")))[1]) as srv:
        with pytest.raises(RemoteError) as err:
            engine(srv, timeout_s=0.5).generate(Q)
        gate.set()
    assert err.value.code == "timeout"


def test_api_key_is_sent_and_never_shown():
    with ScriptedServer(lambda body: deltas(("content", "ok"))) as srv:
        ep = Endpoint(url=srv.url, model="m", api_key="sk-secret-123")
        RemoteEngine(ep).generate(Q)
    assert {k.lower(): v for k, v in srv.headers[-1].items()}["authorization"] == "Bearer sk-secret-123"
    assert "sk-secret" not in repr(ep) and "sk-secret" not in json.dumps(ep.public())


def test_list_models_reads_the_context_the_server_reports():
    with ScriptedServer(lambda b: [], models=("a", "b"), extra_model_fields={"max_model_len": 32768}) as srv:
        assert list_models(srv.url) == [{"id": "a", "context_length": 32768}, {"id": "b", "context_length": 32768}]
    with pytest.raises(RemoteError) as err:
        list_models(f"http://127.0.0.1:{closed_port()}")
    assert err.value.code == "refused"


@pytest.mark.parametrize("raw, url", [
    ("localhost:11434", "http://localhost:11434/v1"),
    ("http://10.0.0.5:8000/", "http://10.0.0.5:8000/v1"),
    ("https://gw.hospital.org/llm/v1/", "https://gw.hospital.org/llm/v1"),
])
def test_normalize_url(raw, url):
    assert normalize_url(raw) == url


def test_endpoints_file_is_private_and_remembers_the_choice(tmp_path):
    eps = Endpoints(tmp_path / "endpoints.json")
    ep = eps.add(Endpoint(url="http://127.0.0.1:8080", model="r1-7b", api_key="k"))
    assert (tmp_path / "endpoints.json").stat().st_mode & 0o777 == 0o600
    eps.use(ep.name)
    assert eps.active == "r1-7b @ 127.0.0.1:8080" and eps.get(ep.name).api_key == "k"
    eps.remove(ep.name)
    assert eps.active == "local" and eps.all() == []
    (tmp_path / "endpoints.json").write_text("{broken")
    with pytest.raises(ValueError, match="damaged"):
        eps.all()


ENGLISH = ("Methods: We enrolled 1,248 adults (mean age 64.2 years, 95% CI 62.1–66.3) across 14 centres between "
           "2015 and 2019. The primary outcome, all-cause mortality at 12 months, fell from 18.4% to 12.9% "
           "(hazard ratio 0.68; p=0.003). Heart failure readmissions were reduced by a nurse-led programme. ") * 5
CHINESE = "患者男性，65岁，胸痛两小时，向左肩放射。心电图示ST段抬高，肌钙蛋白升高，诊断为急性心肌梗死。" * 5
NUMBERS = "HbA1c 7.0% → 6.2% (Δ −0.8; 95% CI −1.1 to −0.5), n=1,024/2,048; eGFR 58.3 mL/min/1.73 m². " * 10


@pytest.mark.parametrize("text", [ENGLISH, CHINESE, NUMBERS])
def test_token_estimate_is_never_below_a_real_tokenizer(text):
    # The bundled embedder's WordPiece tokenizer (always installed); the Qwen and Gemma tokenizers are checked
    # against a real llama.cpp server in test_remote_llamacpp.py.
    from tokenizers import Tokenizer

    from medassist.model.embed import bundled_path
    tok = Tokenizer.from_file(str(bundled_path() / "tokenizer.json"))
    assert estimate_tokens(text) >= len(tok.encode(text).ids)


def test_prompt_room_uses_the_context_the_user_set():
    with ScriptedServer(lambda b: deltas(("content", "x"))) as srv:
        e = engine(srv, context_length=1000)
        assert e.prompt_room([{"role": "user", "content": "word " * 300}], max_new_tokens=300) > 0
        assert e.prompt_room([{"role": "user", "content": "word " * 3000}], max_new_tokens=300) < 0


def test_the_serving_template_asks_the_way_training_did(tiny_hf, tmp_path):
    """vLLM renders the chat itself: with the written template it must produce exactly MedAssist's prompt."""
    from medassist.model import chat
    from medassist.model.serving import serving_template

    msgs = [{"role": "user", "content": "Chest pain: first test?"}]
    system = chat.system_prompt("en")
    tpl = chat.load_chat_template(tiny_hf)
    served = chat.render_chat(serving_template(tiny_hf), chat.with_system(msgs, system), add_generation_prompt=True)
    assert served == chat.build_prompt(tpl, msgs, system=system)
    (tmp_path / "r1").mkdir()
    from tests.tiny import R1_TEMPLATE  # a template that opens <think> itself is left as it is
    (tmp_path / "r1" / "chat_template.jinja").write_text(R1_TEMPLATE)
    assert serving_template(tmp_path / "r1") == R1_TEMPLATE


@pytest.mark.parametrize("reply, letter", [("C. Randomised controlled trial", "C"), ("The answer is (F).", "F"),
                                           ("**B**", "B"), ("I cannot tell from this text.", None)])
def test_a_server_model_picks_an_option_by_its_letter(reply, letter):
    with ScriptedServer(lambda body: deltas(("content", reply))) as srv:
        assert engine(srv).choose(Q, "ABCDEFG") == letter
        assert srv.requests[0]["temperature"] == 0
