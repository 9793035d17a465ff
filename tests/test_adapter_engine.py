"""A PEFT adapter read beside its base by the torch engine (engine/torch_engine.py): LoRA and (IA)^3 merged in
memory, prefix tuning as a KV state that starts with the adapter's virtual tokens. The engine's logits and
exam scores equal peft's own forward (the one training used), a kept state gives the same greedy tokens as a
fresh read, and a wrong adapter folder or backend is refused with a clear message."""
import json

import numpy as np
import pytest

Q = [{"role": "user", "content": "Fever, neck stiffness and a rash: which diagnosis first?"}]


def make_adapter(method: str, base, out):
    """A fresh adapter of `method` on the tiny base, its weights perturbed (LoRA starts as a no-op)."""
    import torch
    from peft import IA3Config, LoraConfig, PrefixTuningConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    cfg = {"lora": LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"),
           "ia3": IA3Config(task_type="CAUSAL_LM"),
           "prefix": PrefixTuningConfig(num_virtual_tokens=5, task_type="CAUSAL_LM")}[method]
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32), cfg)
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.5)
    model.save_pretrained(out)
    return out


def peft_logits(base, adapter, ids):
    """The last position's logits from peft's own forward (prefix tuning: its past_key_values path)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32), adapter).eval()
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids])).logits[0, -1].numpy()


@pytest.mark.parametrize("method", ["lora", "ia3", "prefix"])
def test_engine_with_an_adapter_matches_peft(method, tiny_hf, tmp_path):
    from medassist.model.engine.torch_engine import TorchEngine

    adapter = make_adapter(method, tiny_hf, tmp_path / method)
    eng = TorchEngine(tiny_hf, dtype="float32", threads=1, adapter=adapter)
    plain = TorchEngine(tiny_hf, dtype="float32", threads=1)
    ids = eng.encode(eng.render(Q, think=False) + "The answer is (")
    want = peft_logits(tiny_hf, adapter, ids)
    got = eng.letter_scores(Q, "ABCD")
    base = plain.letter_scores(Q, "ABCD")
    letters = [eng.encode(x)[0] for x in "ABCD"]
    np.testing.assert_allclose(got, want[letters], atol=1e-4)
    assert not np.allclose(got, base, atol=1e-3)  # the adapter is really applied
    assert method in eng.info.name


def test_prefix_state_is_kept_and_rewound_like_any_other(tiny_hf, tmp_path):
    """Greedy tokens equal with and without the kept state: a new chat, a follow-up, a regenerate."""
    from medassist.model.engine.torch_engine import TorchEngine

    adapter = make_adapter("prefix", tiny_hf, tmp_path / "prefix")
    cached = TorchEngine(tiny_hf, dtype="float32", threads=1, adapter=adapter)
    fresh = TorchEngine(tiny_hf, dtype="float32", threads=1, adapter=adapter)
    fresh.reuse_kv = False
    kw = dict(thinking_budget=10, max_new_tokens=10, temperature=0)
    first = cached.generate(Q, **kw)
    assert (first.thinking, first.answer) == (lambda r: (r.thinking, r.answer))(fresh.generate(Q, **kw))
    follow = Q + [{"role": "assistant", "content": first.answer}, {"role": "user", "content": "And the test?"}]
    for msgs in (follow, Q):  # a follow-up, then the first question again (a rewind)
        a, b = cached.generate(msgs, **kw), fresh.generate(msgs, **kw)
        assert (a.thinking, a.answer) == (b.thinking, b.answer)
        assert a.cached_tokens > 0 and b.cached_tokens == 0


def test_load_engine_finds_the_adapters_base_and_refuses_what_it_cannot_read(tiny_hf, tmp_path):
    from medassist.model.engine import load_engine

    adapter = make_adapter("ia3", tiny_hf, tmp_path / "ia3")
    cfg = adapter / "adapter_config.json"
    c = json.loads(cfg.read_text())
    c["base_model_name_or_path"] = str(tiny_hf)
    cfg.write_text(json.dumps(c))
    eng = load_engine(backend="torch", adapter=adapter, threads=1)  # its base from adapter_config.json
    assert eng.path == tiny_hf and "ia3" in eng.info.name
    with pytest.raises(ValueError, match="torch backend only"):
        load_engine(tiny_hf, backend="onnx", adapter=adapter)
    with pytest.raises(FileNotFoundError, match="not a PEFT adapter"):
        load_engine(tiny_hf, backend="torch", adapter=tmp_path)
    c["base_model_name_or_path"] = "some-org/not-here"
    cfg.write_text(json.dumps(c))
    with pytest.raises(FileNotFoundError, match="--model-path"):
        load_engine(backend="torch", adapter=adapter)


def test_torch_backend_precision_is_a_dtype(tiny_hf):
    from medassist.model.engine import load_engine

    assert load_engine(tiny_hf, backend="torch", precision="fp32", threads=1).info.precision == "float32"
    assert load_engine(tiny_hf, backend="torch", threads=1).info.precision == "bfloat16"
    with pytest.raises(ValueError, match="not 'int8'"):
        load_engine(tiny_hf, backend="torch", precision="int8")
