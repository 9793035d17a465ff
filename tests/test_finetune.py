"""Fine-tuning on a tiny model: data validation, label masking, loss goes down, resume, merge parity."""
import json

import pytest

from medassist.finetune import data
from medassist.finetune.train import TrainConfig, encode_example, train

GOOD = {"Question": "What causes stress incontinence?", "Complex_CoT": "Urethral hypermobility and weak pelvic floor.",
        "Response": "Pelvic floor weakness; first line is pelvic floor muscle training."}


def write_jsonl(path, rows, raw_lines=()):
    with open(path, "wb") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False).encode() + b"\n")
        for line in raw_lines:
            f.write(line + b"\n")
    return str(path)


def test_data_validation_report(tmp_path):
    rows = [GOOD, dict(GOOD),  # duplicate
            {"Question": "q2", "Complex_CoT": "", "Response": "r"},  # empty field
            {"Question": "q3", "Response": "r"},  # missing field
            {"Question": 3, "Complex_CoT": "c", "Response": "r"},  # wrong type
            {"messages": [{"role": "user", "content": "Chat question?"},
                          {"role": "assistant", "content": "<think>chat reasoning</think>chat answer"}]}]
    path = write_jsonl(tmp_path / "d.jsonl", rows, raw_lines=[b"{not json", b'{"Question": "\xff\xfe"}'])
    examples, report = data.load(path)
    assert [e.question for e in examples] == [GOOD["Question"], "Chat question?"]
    assert examples[1].reasoning == "chat reasoning" and examples[1].answer == "chat answer"
    assert report.kept == 2
    assert report.skipped == {"duplicate question": 1, "an empty field": 1, "missing Question/Complex_CoT/Response": 1,
                              "a field is not text": 1, "malformed JSON": 1, "bad encoding": 1}
    assert "kept 2, skipped 6" in str(report)


def test_nothing_usable_is_an_error(tmp_path):
    with pytest.raises(data.DataError, match="no usable records"):
        data.load(write_jsonl(tmp_path / "d.jsonl", [{"x": 1}]))
    with pytest.raises(data.DataError, match="no such file"):
        data.load(str(tmp_path / "missing.jsonl"))


def test_split_is_deterministic_and_disjoint():
    exs = [data.Example(f"question {i}", "r", "a") for i in range(50)]
    tr, va = data.split(exs, 0.2)
    assert data.split(exs, 0.2) == (tr, va) and len(tr) + len(va) == 50 and va
    assert not {e.question for e in tr} & {e.question for e in va}


def test_prompt_tokens_are_masked(tiny_hf):
    from transformers import AutoTokenizer

    from medassist.model import chat as P

    tok = AutoTokenizer.from_pretrained(tiny_hf)
    template = P.load_chat_template(tiny_hf)
    ex = data.Example(GOOD["Question"], GOOD["Complex_CoT"], GOOD["Response"])
    enc = encode_example(tok, template, ex, 4096)
    prompt, completion = P.training_pair(template, ex.question, ex.reasoning, ex.answer, eos_token=tok.eos_token)
    n_prompt = len(tok.encode(prompt, add_special_tokens=False))
    assert enc["labels"][:n_prompt] == [-100] * n_prompt
    assert enc["labels"][n_prompt:] == enc["input_ids"][n_prompt:] == tok.encode(completion, add_special_tokens=False)
    assert enc["labels"][-1] == tok.eos_token_id


def tiny_config(tmp_path, tiny_hf, **kw):
    rows = [{"Question": f"Case {i}: fever and cough for {i} days?", "Complex_CoT": "Think about pneumonia.",
             "Response": "Chest X-ray."} for i in range(12)]
    kw = {"out": str(tmp_path / "run"), "data": write_jsonl(tmp_path / "d.jsonl", rows), "lr": 5e-3,
          "grad_accum": 2} | kw
    return TrainConfig(base=str(tiny_hf), r=4, alpha=8, dropout=0.0, warmup_ratio=0.0, max_seq_len=1024,
                       eval_every=1, save_every=1, dtype="float32", gradient_checkpointing=True, threads=1,
                       val_fraction=0.2, **kw)


def test_few_steps_lower_the_loss_and_write_outputs(tmp_path, tiny_hf):
    adapter = train(tiny_config(tmp_path, tiny_hf, max_steps=8), log=lambda *a: None)
    metrics = json.loads((adapter / "metrics.json").read_text())
    assert metrics["final_loss"] < metrics["first_loss"]
    assert metrics["peak_rss_gib"] > 0 and all("peak_rss_gib" in h for h in metrics["history"])
    vals = [h["val_loss"] for h in metrics["history"] if "val_loss" in h]
    assert vals[-1] < vals[0]
    assert (adapter / "adapter_model.safetensors").exists() and (adapter / "train_config.json").exists()
    assert (tmp_path / "run" / "loss.png").stat().st_size > 1000


def test_chunked_loss_equals_the_models_own_loss_and_gradients(tiny_hf, monkeypatch):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from medassist.finetune import loss as T

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_hf, dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    assert T.plain_head(model)
    ids = torch.tensor([[5, 17, 42, 99, 7, 3, 11, 64, 2, 8, 31]])
    labels = torch.tensor([[-100, -100, -100, -100, 7, 3, 11, 64, 2, 8, 31]])  # prompt masked
    monkeypatch.setattr(T, "LOSS_CHUNK", 3)  # several slices
    lora = [p for p in model.parameters() if p.requires_grad]
    ours = T.chunked_loss(model, ids, labels)
    g_ours = torch.autograd.grad(ours, lora)
    theirs = model(input_ids=ids, labels=labels).loss
    g_theirs = torch.autograd.grad(theirs, lora)
    assert torch.allclose(ours, theirs, atol=1e-5)
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(g_ours, g_theirs))


def test_resume_continues_from_the_checkpoint(tmp_path, tiny_hf):
    train(tiny_config(tmp_path, tiny_hf, max_steps=2), log=lambda *a: None)
    first = json.loads((tmp_path / "run" / "checkpoint" / "state.json").read_text())
    said = []
    adapter = train(tiny_config(tmp_path, tiny_hf, max_steps=4), log=said.append)
    assert "resuming from step 2" in said
    hist = json.loads((adapter / "metrics.json").read_text())["history"]
    assert [h["step"] for h in hist] == [1, 2, 3, 4] and hist[:2] == first["history"]


def test_init_adapter_starts_from_its_weights_and_trains_them(tmp_path, tiny_hf):
    from safetensors.torch import load_file

    first = train(tiny_config(tmp_path, tiny_hf, max_steps=8), log=lambda *a: None)
    m1 = json.loads((first / "metrics.json").read_text())
    second = train(tiny_config(tmp_path, tiny_hf, max_steps=2, init_adapter=str(first),
                               out=str(tmp_path / "run2")), log=lambda *a: None)
    m2 = json.loads((second / "metrics.json").read_text())
    # The second run starts where the first ended, not from fresh LoRA layers...
    assert m2["first_loss"] < (m1["first_loss"] + m1["final_loss"]) / 2
    # ...and its weights are trainable: they moved.
    a, b = load_file(first / "adapter_model.safetensors"), load_file(second / "adapter_model.safetensors")
    assert a.keys() == b.keys() and any(not (a[k] == b[k]).all() for k in a)
    assert json.loads((second / "train_config.json").read_text())["init_adapter"] == str(first)


def test_too_short_max_seq_len_is_a_clear_error(tmp_path, tiny_hf):
    cfg = tiny_config(tmp_path, tiny_hf, max_steps=1)
    cfg.max_seq_len = 16
    with pytest.raises(data.DataError, match="max_seq_len=16"):
        train(cfg, log=lambda *a: None)


def test_merge_gives_the_adapter_logits(tmp_path, tiny_hf):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from medassist.model.merge import merge_adapter

    adapter = train(tiny_config(tmp_path, tiny_hf, max_steps=3), log=lambda *a: None)
    merged_dir = merge_adapter(tiny_hf, adapter, tmp_path / "merged", dtype="float32")
    ids = torch.tensor([[5, 17, 42, 99, 7, 3]])
    wrapped = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_hf, dtype=torch.float32), adapter)
    merged = AutoModelForCausalLM.from_pretrained(merged_dir, dtype=torch.float32)
    base = AutoModelForCausalLM.from_pretrained(tiny_hf, dtype=torch.float32)
    with torch.no_grad():
        a, b, c = wrapped(ids).logits, merged(ids).logits, base(ids).logits
    assert torch.allclose(a, b, atol=1e-4)
    assert not torch.allclose(a, c, atol=1e-3)  # the adapter really changed the model


def test_training_killed_mid_way_resumes_cleanly(tmp_path, tiny_hf):
    """SIGKILL a training run after its first checkpoint; the next run resumes and finishes."""
    import dataclasses
    import os
    import signal
    import subprocess
    import sys
    import time

    import yaml

    cfg = tiny_config(tmp_path, tiny_hf, max_steps=400)
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(dataclasses.asdict(cfg)))
    proc = subprocess.Popen([sys.executable, "-m", "medassist.finetune.train", "--config", str(tmp_path / "cfg.yaml")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    state = tmp_path / "run" / "checkpoint" / "state.json"
    deadline = time.time() + 120
    while not state.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert state.exists(), "no checkpoint was written"
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "run" / "adapter").exists()  # no half-written adapter
    step = json.loads(state.read_text())["step"]  # the checkpoint on disk is whole
    assert 1 <= step < 400
    said = []
    adapter = train(dataclasses.replace(cfg, max_steps=step + 2), log=said.append)
    assert f"resuming from step {step}" in said
    assert json.loads((adapter / "metrics.json").read_text())["history"][-1]["step"] == step + 2
    assert not [p.name for p in (tmp_path / "run").iterdir() if ".tmp-" in p.name]  # nothing half-written is left


def test_train_memory_benchmark_runs_both_losses(tmp_path, tiny_hf):
    import yaml

    from benchmarks import train_memory

    cfg = tiny_config(tmp_path, tiny_hf)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({"base": cfg.base, "data": cfg.data, "r": 4, "alpha": 8,
                                                      "dtype": "float32", "threads": 1}))
    train_memory.main(["--config", str(tmp_path / "c.yaml"), "--examples", "2", "--out", str(tmp_path / "m.json")])
    rows = json.loads((tmp_path / "m.json").read_text())
    assert set(rows) == set(train_memory.VARIANTS) and rows["chunked-loss"]["examples"] == 2
    # Fresh LoRA layers change nothing yet, so every variant sees the same model: same values.
    assert rows["model-loss"]["losses"] == pytest.approx(rows["chunked-loss"]["losses"], abs=1e-3)
    assert rows["chunked-mmap-1mib"]["losses"] == rows["chunked-loss"]["losses"]
    assert rows["chunked-mmap-1mib"]["mmap_threshold_mib"] == 1 and rows["chunked-loss"]["mmap_threshold_mib"] == 0
    assert len(rows["chunked-loss"]["losses"]) == 3  # the longest two, then one more after the validation pass
    assert rows["model-loss"]["val_loss"] == pytest.approx(rows["chunked-loss"]["val_loss"], abs=1e-3)
    assert 0 < rows["chunked-loss"]["peak_rss_after_train_gib"] <= rows["chunked-loss"]["peak_rss_gib"]
