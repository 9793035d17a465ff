"""The engine seam: streaming, the thinking budget, stop strings, cancellation, and ONNX/PyTorch parity."""
import threading

import numpy as np
import pytest

from medassist.model.defaults import DOCUMENT, QA
from medassist.model.engine.base import IncrementalDecoder
from tests.fake import ScriptedEngine

Q = [{"role": "user", "content": "Why is the sky blue?"}]


def test_stream_splits_thinking_and_answer():
    eng = ScriptedEngine("Rayleigh scattering.\n</think>\n\nShort wavelengths scatter more.")
    chunks = list(eng.stream(Q, thinking_budget=100, max_new_tokens=100))
    assert "".join(c.text for c in chunks if c.phase == "thinking") == "Rayleigh scattering."
    assert "".join(c.text for c in chunks if c.phase == "answer") == "Short wavelengths scatter more."
    assert chunks[-1].finish_reason == "stop"
    assert all(c.finish_reason is None for c in chunks[:-1])
    assert chunks[-1].generated_tokens == len(eng.script) + 1  # + EOS
    assert eng.last_prompt.endswith("<assistant><think>\n")


def test_generate_joins_stream():
    r = ScriptedEngine("a</think>b").generate(Q)
    assert (r.thinking, r.answer, r.finish_reason) == ("a", "b", "stop")


def test_thinking_budget_forces_the_answer():
    eng = ScriptedEngine("x" * 500)  # never closes its think block
    r = eng.generate(Q, thinking_budget=10, max_new_tokens=20)
    assert r.thinking == "x" * 10
    assert eng.sessions[0].forced == [ord(c) for c in "\n</think>\n\n"]
    assert r.answer == "x" * 20 and r.finish_reason == "length"


def test_end_of_text_while_thinking_asks_for_the_answer():
    eng = ScriptedEngine("reasoning only", after_force="The answer.")
    r = eng.generate(Q, thinking_budget=100)
    assert (r.thinking, r.answer, r.finish_reason) == ("reasoning only", "The answer.", "stop")
    s = eng.sessions[0]
    assert 0 not in s.tokens and s.forced == [ord(c) for c in "\n</think>\n\n"]  # the early end was never kept


def test_zero_budget_skips_thinking():
    eng = ScriptedEngine("The answer.")
    r = eng.generate(Q, thinking_budget=0)
    assert (r.thinking, r.answer) == ("", "The answer.")
    assert eng.last_prompt.endswith("<think>\n</think>\n\n")


def test_stop_string_cuts_answer_and_is_not_shown():
    r = ScriptedEngine("t</think>Answer. STOP and more").generate(Q, stop=["STOP"])
    assert (r.answer, r.finish_reason) == ("Answer. ", "stop_string")


def test_partial_stop_string_is_released_at_the_end():
    r = ScriptedEngine("t</think>Answer ST").generate(Q, stop=["STOP"])
    assert r.answer == "Answer ST"


def test_cancel_from_another_thread():
    eng = ScriptedEngine("y" * 2000, delay=0.002)
    seen, ev = [], threading.Event()
    threading.Timer(0.1, ev.set).start()  # the Stop button sets its own session's event, from another thread
    for c in eng.stream(Q, thinking_budget=5000, cancel=ev):
        seen.append(c)
    assert seen[-1].finish_reason == "cancelled"
    assert 0 < seen[-1].generated_tokens < 2000


def test_cancel_event_per_call():
    ev = threading.Event()
    ev.set()
    chunks = list(ScriptedEngine("abc").stream(Q, cancel=ev))
    assert chunks[-1].finish_reason == "cancelled" and chunks[-1].generated_tokens == 0


def test_incremental_decoder_waits_for_whole_characters():
    data = "胸痛".encode()
    dec = IncrementalDecoder(lambda ids: bytes(ids).decode("utf-8", errors="replace"))
    out = [dec.add([b]) for b in data]
    assert out == ["", "", "胸", "", "", "痛"]


def test_prompt_too_long_is_a_clear_error():
    eng = ScriptedEngine("a")
    with pytest.raises(ValueError, match="longer than this model"):
        list(eng.stream([{"role": "user", "content": "w" * 40000}]))


# --- real tiny models: ONNX (onnxruntime-genai) against PyTorch ---------------------------------

def greedy(eng, ids, penalty=1.0, n=32):
    """n greedy tokens after ids, on a fresh KV state of the engine's backend."""
    from medassist.model.engine.sampling import Sampler

    s, out = eng.new_session(len(ids) + n + 8), []
    sampler = Sampler(temperature=0, top_p=1, seed=0, penalty=penalty, prompt_ids=ids)
    s.feed(ids)
    for _ in range(n):
        out.append(sampler.next(s.logits()))
        s.feed(out[-1:])
        sampler.saw(out[-1:])
    return out

def test_onnx_tokenizer_matches_hf(tiny_hf, tiny_onnx_fp32):
    from transformers import AutoTokenizer

    from medassist.model.engine.onnx_engine import OnnxEngine

    eng, tok = OnnxEngine(tiny_onnx_fp32), AutoTokenizer.from_pretrained(tiny_hf)
    for text in [eng.render(Q), "患者出现胸痛 (A) <think> 37.5°C", "  spaces\n\nand\ttabs"]:
        assert eng.encode(text) == tok.encode(text, add_special_tokens=False)


def test_greedy_parity_torch_vs_onnx_fp32(tiny_hf, tiny_onnx_fp32):
    from medassist.model.engine.onnx_engine import OnnxEngine
    from medassist.model.engine.torch_engine import TorchEngine

    onnx, torch_ = OnnxEngine(tiny_onnx_fp32, threads=1), TorchEngine(tiny_hf, dtype="float32", threads=1)
    ids = onnx.encode(onnx.render(Q))

    assert greedy(onnx, ids) == greedy(torch_, ids)


def test_repetition_penalty_same_in_both_backends_and_changes_greedy_output(tiny_hf, tiny_onnx_fp32):
    """Both backends penalise every token already in the sequence, prompt included, the same way."""
    from medassist.model.engine.onnx_engine import OnnxEngine
    from medassist.model.engine.torch_engine import TorchEngine

    onnx, torch_ = OnnxEngine(tiny_onnx_fp32, threads=1), TorchEngine(tiny_hf, dtype="float32", threads=1)
    ids = onnx.encode(onnx.render(Q))

    plain, penalised = greedy(torch_, ids, 1.0), greedy(torch_, ids, 1.5)
    assert penalised != plain  # prompt tokens are penalised too, so even the first steps change
    assert greedy(onnx, ids, 1.5) == penalised


def test_penalize_divides_positive_and_multiplies_negative_logits():
    from medassist.model.engine.sampling import penalize

    logits = np.array([2.0, -2.0, 1.0, 0.5], dtype=np.float32)
    out = penalize(logits, np.array([0, 1]), 2.0)
    assert out.tolist() == [1.0, -4.0, 1.0, 0.5]
    assert penalize(logits, np.array([0, 1]), 1.0) is logits and logits.tolist() == [2.0, -2.0, 1.0, 0.5]


def test_sampling_keeps_to_top_p_and_a_seed_repeats_it():
    from medassist.model.engine.sampling import sample

    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05], dtype=np.float32))
    picks = {sample(logits, 1.0, 0.7, np.random.default_rng(i)) for i in range(200)}
    assert picks == {0, 1}  # 0.5 + 0.3 reach 0.7: the two unlikely tokens are never drawn
    draw = lambda seed: [sample(logits, 1.0, 1.0, rng) for rng in [np.random.default_rng(seed)] for _ in range(20)]
    assert draw(7) == draw(7) and sample(logits, 0, 0.7, None) == 0


def test_stream_passes_the_repetition_penalty_to_the_session():
    eng = ScriptedEngine("<think>a</think>b")
    eng.generate(Q, repetition_penalty=1.1)
    assert eng.last_penalty == 1.1
    eng.generate(Q)
    assert eng.last_penalty == QA.repetition_penalty == 1.15  # the one set of defaults, medassist/model/defaults.py
    eng.generate(Q, **DOCUMENT.kwargs())
    assert eng.last_penalty == 1.0  # paper work copies the paper's words: no penalty


def test_onnx_stream_end_to_end(tiny_onnx_fp32):
    from medassist.model.engine import load_engine

    eng = load_engine(tiny_onnx_fp32, threads=1)
    chunks = list(eng.stream(Q, thinking_budget=8, max_new_tokens=8, temperature=0.7, seed=1))
    last = chunks[-1]
    assert last.finish_reason in ("length", "stop")
    assert last.prompt_tokens > 10 and last.generated_tokens > 0 and last.ttft_s > 0


def test_generation_stops_when_the_context_is_full(tiny_onnx_fp32):
    """A prompt that leaves less room than max_new_tokens ends with "length", never a runtime error."""
    from medassist.model.engine import load_engine

    eng = load_engine(tiny_onnx_fp32, threads=1)
    words = " ".join(f"word{i}" for i in range(2000))

    def msgs(n):
        return [{"role": "user", "content": words[:n]}]
    lo, hi = 0, len(words)  # the longest prompt that still fits the tiny model's 1024-token context
    while hi - lo > 8:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if eng.prompt_room(msgs(mid), think=False) >= 20 else (lo, mid)
    msgs = msgs(lo)
    assert eng.prompt_room(msgs, think=False, max_new_tokens=200) < 0
    last = list(eng.stream(msgs, thinking_budget=0, max_new_tokens=200, temperature=0.0))[-1]
    assert last.finish_reason == "length" and last.prompt_tokens + last.generated_tokens <= eng.context_length


def test_bad_model_path_is_a_clear_error(tmp_path):
    from medassist.model.engine import load_engine

    with pytest.raises(FileNotFoundError, match="not an ONNX model folder"):
        load_engine(tmp_path)
    with pytest.raises(FileNotFoundError, match="not built yet"):
        load_engine()


LOOP = "Let me reconsider the options once more. "  # 41 characters = 41 scripted tokens


def test_loop_guard_closes_reasoning_that_repeats_itself():
    eng = ScriptedEngine("Pain at rest. " + LOOP * 30, after_force="The answer is (B).")
    r = eng.generate(Q, thinking_budget=2000)
    assert (r.think_end, r.answer, r.finish_reason) == ("loop", "The answer is (B).", "stop")
    # Caught on the third sight of a 32-token run: about two periods in, not at the budget.
    assert r.thinking.count(LOOP.strip()) in (2, 3) and len(r.thinking) < 14 + 3 * len(LOOP)
    assert eng.sessions[0].forced == [ord(c) for c in "\n</think>\n\n"]


def test_loop_guard_can_be_turned_off_and_spares_healthy_reasoning():
    r = ScriptedEngine(LOOP * 30, after_force="B").generate(Q, thinking_budget=300, loop_guard=False)
    assert r.think_end == "budget" and len(r.thinking) == 300
    # Restating a phrase once (two sights) is reasoning, not a loop.
    r = ScriptedEngine(LOOP + "Then renal causes. " + LOOP + "So (B).</think>B").generate(Q, thinking_budget=2000)
    assert (r.think_end, r.answer) == ("model", "B")
    assert ScriptedEngine("The answer.").generate(Q, thinking_budget=0).think_end is None
    assert ScriptedEngine("x" * 500).generate(Q, thinking_budget=10).think_end == "budget"


def test_loop_guard_counts_exact_windows():
    from medassist.model.thinking import LoopGuard

    g = LoopGuard(window=4, times=3)
    assert not any(g.add(t) for t in [1, 2, 3, 4, 5, 1, 2, 3, 4])  # [1 2 3 4] seen twice
    assert not any(g.add(t) for t in [5, 1, 2, 3])
    assert g.add(4)  # the third sight
