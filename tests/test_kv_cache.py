"""The kept KV state (engine/local.py): a request that starts from an earlier request's state gives the same
tokens as one that reads its whole prompt, for a new chat, a follow-up, a regenerate, after a Stop, under
another system prompt, and when the state is too small to keep. On both local backends (tiny real models)."""
import threading

import pytest

from medassist.model import chat as P

Q = [{"role": "user", "content": "Why is the sky blue?"}]
KW = dict(thinking_budget=12, max_new_tokens=12, temperature=0)


def engines(backend, tiny_hf, tiny_onnx_fp32):
    if backend == "onnx":
        from medassist.model.engine.onnx_engine import OnnxEngine

        make = lambda: OnnxEngine(tiny_onnx_fp32, threads=1)  # noqa: E731
    else:
        from medassist.model.engine.torch_engine import TorchEngine

        make = lambda: TorchEngine(tiny_hf, dtype="float32", threads=1)  # noqa: E731
    cached, fresh = make(), make()
    fresh.reuse_kv = False
    return cached, fresh


def same(cached, fresh, msgs, **kw):
    a, b = cached.generate(msgs, **(KW | kw)), fresh.generate(msgs, **(KW | kw))
    assert (a.thinking, a.answer, a.finish_reason, a.prompt_tokens) == \
        (b.thinking, b.answer, b.finish_reason, b.prompt_tokens)
    assert fresh.reuse_kv or b.cached_tokens == 0
    return a


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_kept_state_gives_the_same_tokens_as_reading_everything(backend, tiny_hf, tiny_onnx_fp32):
    cached, fresh = engines(backend, tiny_hf, tiny_onnx_fp32)
    first = same(cached, fresh, Q)
    assert first.cached_tokens == 0  # nothing kept yet
    follow = Q + [{"role": "assistant", "content": P.assistant_turn(first.thinking, first.answer)},
                  {"role": "user", "content": "And why is it red at sunset?"}]
    up = same(cached, fresh, follow)
    assert up.cached_tokens >= first.prompt_tokens - 2  # the first turn is not read again
    again = same(cached, fresh, follow)  # regenerate: all but the last prompt token kept
    assert again.cached_tokens == again.prompt_tokens - 1
    stop = threading.Event()
    for c in cached.stream(follow, cancel=stop, **KW):
        stop.set()  # the Stop button, after the first chunk
    assert c.finish_reason == "cancelled"
    after_stop = same(cached, fresh, follow)
    assert after_stop.cached_tokens == after_stop.prompt_tokens - 1
    other = same(cached, fresh, follow, system="You are terse.")  # another system prompt: another prefix
    assert other.cached_tokens < 5
    sampled = same(cached, fresh, follow, temperature=0.8, seed=3)  # settings change per request, same state
    assert sampled.cached_tokens > 0


def test_a_state_too_small_is_replaced_and_answers_the_same(tiny_hf, tiny_onnx_fp32):
    cached, fresh = engines("onnx", tiny_hf, tiny_onnx_fp32)
    cached.kv_window = 1  # each state holds exactly what its request needs
    first = same(cached, fresh, Q)
    follow = Q + [{"role": "assistant", "content": P.assistant_turn(first.thinking, first.answer)},
                  {"role": "user", "content": "More?"}]
    assert same(cached, fresh, follow).cached_tokens == 0
    cached.forget()
    assert same(cached, fresh, follow).cached_tokens == 0


def test_letter_scores_do_not_depend_on_the_kept_state(tiny_onnx_fp32, tiny_hf):
    cached, fresh = engines("onnx", tiny_hf, tiny_onnx_fp32)
    mcq = [{"role": "user", "content": "Which is blue? (A) sky (B) grass"}]
    cached.generate(mcq, **KW)  # leaves a state sharing the question's prefix
    assert cached.letter_scores(mcq, "AB") == pytest.approx(fresh.letter_scores(mcq, "AB"), abs=1e-4)


def test_drafted_greedy_tokens_are_the_models_own(tiny_onnx_fp32):
    """A build with every position's logits checks n-gram drafts in one pass; the tokens are those the model
    chooses one at a time: with budgets, a forced close, a stop string and a follow-up, kept state or not."""
    from medassist.model.engine.onnx_engine import OnnxEngine

    drafted, plain = OnnxEngine(tiny_onnx_fp32, threads=1), OnnxEngine(tiny_onnx_fp32, threads=1)
    plain.speculative = False
    assert drafted.speculative  # the test fixture keeps every position's logits (prune_lm_head=False)
    repeat = [{"role": "user", "content": "Repeat: the cat sat on the mat, the cat sat on the mat, the cat"}]
    greedy = dict(temperature=0, repetition_penalty=1.0)  # only these requests take drafts
    for kw in (dict(thinking_budget=24, max_new_tokens=40, **greedy), dict(thinking_budget=0, max_new_tokens=60, **greedy),
               dict(thinking_budget=0, max_new_tokens=60, stop=["mat"], **greedy)):
        first = same(drafted, plain, repeat, **kw)
        follow = repeat + [{"role": "assistant", "content": P.assistant_turn(first.thinking, first.answer)},
                           {"role": "user", "content": "Again."}]
        same(drafted, plain, follow, **kw)
    plain.reuse_kv = False
    same(drafted, plain, repeat, thinking_budget=0, max_new_tokens=60, **greedy)
    assert drafted._kv.g.get_speculative_stats()["rounds"] > 0  # drafts were really proposed and checked
