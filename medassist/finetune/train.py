"""Stage 2: supervised fine-tuning on medical chain-of-thought (completion-only loss), from a laptop CPU to
several GPUs with the same config.

    medassist-train --config medassist/finetune/configs/default.yaml [--max-steps 10] [--out runs/x]
    accelerate launch --num_processes 4 -m medassist.finetune.train --config medassist/finetune/configs/gpu.yaml
    accelerate launch --config_file medassist/finetune/configs/accelerate/deepspeed_zero3.yaml -m medassist.finetune.train ...

Each example is rendered by medassist/model/chat.py exactly as inference renders it; prompt tokens get
label -100, so only the reasoning + answer + EOS are learned. `grad_accum` examples make one optimizer step,
whatever the number of processes (each takes its share, in padded batches of `batch_size`), so a run's loss
curve and its checkpoints do not depend on how many processes ran it: resume with a different count.
Warmup then cosine/linear decay, validation loss every `eval_every` steps (early stopping keeps the best), a
checkpoint every `save_every` optimizer steps (interrupt and run again to resume), and at the end:
out/adapter/ (safetensors + train_config.json + metrics.json) and out/loss.png. Only the main process
logs and writes. The device, dtype and refusals: device.py; the PEFT methods and QLoRA: methods.py.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from medassist.finetune.device import (DeviceError, check_quantization, limit_heap_growth, peak_gpu_gib,
                                       peak_rss_gib, pick_device, pick_dtype, release_free_memory)
from medassist.finetune.loss import batch_loss, plain_head
from medassist.finetune.methods import load_model
from medassist.model import bases
from medassist.model import chat as P
from medassist.model.config import add_flags, resolve
from medassist.model.paths import atomic_dir, write_json_atomic


@dataclass
class TrainConfig:
    base: str = bases.DEFAULT_BASE  # a built model name (its hf/ folder) or an HF folder
    data: str = "../shared/data/finetune/medical_o1_sample_en.jsonl"
    hf_config: str = "en"
    out: str = "runs/medassist-lora"
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: list = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj",
                                                           "gate_proj", "up_proj", "down_proj"])
    lr: float = 2e-4
    epochs: float = 1.0
    max_steps: int = 0  # optimizer steps; 0 = from epochs
    grad_accum: int = 8  # examples per optimizer step, over all processes (the global batch)
    warmup_ratio: float = 0.1
    schedule: str = "cosine"  # cosine | linear
    max_seq_len: int = 1024
    val_fraction: float = 0.1
    eval_every: int = 10
    save_every: int = 5
    seed: int = 0
    device: str = "auto"  # auto = cuda, else mps, else cpu (device.py)
    dtype: str = "auto"  # auto = bf16 where the device computes it natively, else fp32
    method: str = "lora"  # lora | ia3 | prefix (methods.py)
    num_virtual_tokens: int = 20  # prefix tuning's learned positions
    prefix_init: str = "text"  # text: the base's own keys and values for real text (methods.py) | random: peft's
    load_in_4bit: bool = False  # QLoRA: the base in 4-bit NF4 (bitsandbytes, CUDA only; refused elsewhere)
    batch_size: int = 1  # examples per forward pass, right-padded; grad_accum must split into them
    early_stopping_patience: int = 0  # validations without a new best before stopping (0: never); the best is kept
    stop_after: int = 0  # stop after this many optimizer steps as if interrupted (checkpoint kept; run again to go on)
    gradient_checkpointing: bool = True
    chunked_loss: bool = True  # loss over slices of logits (see chunked_loss); False = the model's own loss
    threads: int = 0
    save_dtype: str = "bfloat16"  # the shipped adapter: r=16 on every projection of the 1.5B is 37 MB in bf16
    # Start from this adapter's weights instead of fresh LoRA layers (another pass over the data with
    # a new optimizer and schedule); its own adapter_config.json decides r, alpha and targets.
    init_adapter: str = ""
    mmap_threshold_mib: int = 1  # glibc: allocations this big get their own mapping (see limit_heap_growth); 0 = glibc's default


def resolve_base(base: str) -> Path:
    """A folder, a built model's name, or (online) a Hugging Face Hub id, downloaded once into its cache."""
    p = Path(base).expanduser()
    if p.is_dir():
        return p
    from medassist.model.registry import model_dir, resolve_model

    if not model_dir(base).exists() and re.fullmatch(r"[\w.-]+/[\w.-]+", base):
        from huggingface_hub import snapshot_download

        try:
            return Path(snapshot_download(base, allow_patterns=["*.json", "*.safetensors", "*.jinja", "*.txt",
                                                                "*.model", "*.tiktoken"]))
        except Exception as e:  # offline, a wrong id, a gated model without a token
            raise FileNotFoundError(f"base {base!r} is not a folder or a built model, and the Hugging Face Hub did "
                                    f"not give it ({type(e).__name__}: {str(e)[:200]}). Download it first, or "
                                    "check the id and your connection.") from None
    return resolve_model(base, backend="torch")


def encode_example(tok, template: str, ex, max_len: int) -> dict:
    prompt, completion = P.training_pair(template, ex.question, ex.reasoning, ex.answer,
                                         bos_token=tok.bos_token or "", eos_token=tok.eos_token)
    p_ids = tok.encode(prompt, add_special_tokens=False)
    c_ids = tok.encode(completion, add_special_tokens=False)
    ids = (p_ids + c_ids)[:max_len]
    labels = ([-100] * len(p_ids) + c_ids)[:max_len]
    return {"input_ids": ids, "labels": labels}


def lr_lambda(schedule: str, warmup: int, total: int):
    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress))) if schedule == "cosine" else max(0.0, 1 - progress)
    return f


def encoded_splits(cfg: TrainConfig, base: Path, log=print) -> tuple:
    """(tokenizer, chat template, train examples, validation examples, data report), tokenized as trained."""
    from transformers import AutoTokenizer

    from medassist.finetune import data

    examples, report = data.load(cfg.data, cfg.hf_config)
    log(f"data: {report}")
    train_ex, val_ex = data.split(examples, cfg.val_fraction)
    tok = AutoTokenizer.from_pretrained(base)
    template = P.load_chat_template(base)
    train_set = [encode_example(tok, template, e, cfg.max_seq_len) for e in train_ex]
    val_set = [encode_example(tok, template, e, cfg.max_seq_len) | {"lang": e.lang} for e in val_ex]
    # An example whose prompt alone fills max_seq_len has nothing left to learn from: drop it, say so.
    n_before = len(train_set) + len(val_set)
    train_set = [e for e in train_set if any(x != -100 for x in e["labels"])]
    val_set = [e for e in val_set if any(x != -100 for x in e["labels"])]
    if len(train_set) + len(val_set) < n_before:
        log(f"skipped {n_before - len(train_set) - len(val_set)} examples whose prompt fills max_seq_len={cfg.max_seq_len}")
    if not train_set:
        raise data.DataError(f"no training example fits in max_seq_len={cfg.max_seq_len}")
    return tok, template, train_set, val_set, report


def evaluate_loss(model, examples, chunked: bool, device=None, pad_id: int = 0, batch_size: int = 1) -> tuple:
    """(sum of loss x learned tokens, learned tokens) over these examples: the token-weighted validation loss."""
    import torch

    model.eval()
    total, n = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(examples), batch_size):
            losses, counts = batch_loss(model, examples[i:i + batch_size], chunked, device, pad_id)
            total += sum(float(x) * k for x, k in zip(losses, counts))
            n += sum(counts)
            release_free_memory()  # without it, RSS climbed 8 -> 10.6 GiB in one validation pass (12.6 next step)
    model.train()
    return total, n


def train(cfg: TrainConfig, log=print) -> Path:
    """Train; returns the adapter folder (or the checkpoint folder when stop_after ended the run early)."""
    import torch
    from accelerate import Accelerator, PartialState
    from peft import get_peft_model_state_dict, set_peft_model_state_dict
    from tqdm import tqdm

    device = pick_device(cfg.device)
    check_quantization(cfg.load_in_4bit, device)
    dtype = pick_dtype(cfg.dtype, device)
    # The process count comes from `accelerate launch` (1 when run directly); the config never names it.
    world = PartialState(cpu=device == "cpu").num_processes
    if cfg.grad_accum % (world * cfg.batch_size):
        raise DeviceError(f"grad_accum ({cfg.grad_accum} examples per step) must split evenly over {world} "
                          f"process(es) x batch_size {cfg.batch_size}")
    micro = cfg.grad_accum // (world * cfg.batch_size)  # forward passes per process per optimizer step
    acc = Accelerator(cpu=device == "cpu", gradient_accumulation_steps=micro,
                      mixed_precision="bf16" if device == "cuda" and dtype == torch.bfloat16 else "no")
    rank = acc.process_index
    say = log if acc.is_main_process else (lambda *a: None)
    if cfg.method == "prefix" and cfg.gradient_checkpointing:
        say("prefix tuning does not work with gradient checkpointing (peft): training without it, in more memory")
        cfg = dataclasses.replace(cfg, gradient_checkpointing=False)
    if device == "cpu":
        limit_heap_growth(cfg.mmap_threshold_mib)
    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    base = resolve_base(cfg.base)
    tok, template, train_set, val_set, report = encoded_splits(cfg, base, say)
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    model = load_model(cfg, base, dtype, acc.local_process_index)
    # Slices of the logits only where the model is not wrapped by a distributed engine (DDP, ZeRO, FSDP need
    # the forward to go through their wrapper) and the method keeps the base's forward (not prefix tuning).
    chunked = (cfg.chunked_loss and cfg.batch_size == 1 and acc.distributed_type.name == "NO" and cfg.method != "prefix"
               and plain_head(model))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0, **({"fused": True} if device == "cuda" else {}))
    if acc.distributed_type.name == "DEEPSPEED":
        # No DataLoader goes through prepare() (batches are built here), so DeepSpeed is told the pass size itself;
        # its accumulation count is filled from the Accelerator's (micro).
        acc.state.deepspeed_plugin.deepspeed_config["train_micro_batch_size_per_gpu"] = cfg.batch_size
    model, opt = acc.prepare(model, opt)
    steps_per_epoch = max(1, len(train_set) // cfg.grad_accum)
    total = cfg.max_steps or max(1, round(cfg.epochs * steps_per_epoch))
    # Stepped once per optimizer step here (accelerate's wrapper would step it once per process).
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(cfg.schedule, round(cfg.warmup_ratio * total), total))

    state = {"step": 0, "history": [], "tokens": 0, "seconds": 0.0, "best": None, "bad_evals": 0}
    ckpt = out / "checkpoint"
    if (ckpt / "state.json").exists():  # resume after an interruption (with any process count)
        from safetensors.torch import load_file

        set_peft_model_state_dict(acc.unwrap_model(model), load_file(ckpt / "adapter.safetensors"))
        opt.load_state_dict(torch.load(ckpt / "optimizer.pt", weights_only=True))
        sched.load_state_dict(torch.load(ckpt / "scheduler.pt", weights_only=True))
        state |= json.loads((ckpt / "state.json").read_text())
        say(f"resuming from step {state['step']}")

    def order(epoch: int) -> list[int]:
        idx = list(range(len(train_set)))
        random.Random(cfg.seed + epoch).shuffle(idx)
        return idx

    def summed(*xs) -> list[float]:  # over all processes
        wide = torch.float32 if device == "mps" else torch.float64  # MPS has no float64
        return acc.reduce(torch.tensor(xs, dtype=wide, device=acc.device), "sum").tolist()

    model.train()
    bar = tqdm(total=total, initial=state["step"], desc="train", unit="step", disable=not acc.is_main_process)
    while state["step"] < total and not state.get("stopped_early"):
        step = state["step"]
        epoch, within = divmod(step, steps_per_epoch)
        batch = order(epoch)[within * cfg.grad_accum:(within + 1) * cfg.grad_accum][rank::world]  # this process's share
        t0, n_tok, loss_sum = time.time(), 0, 0.0
        for j in range(0, len(batch), cfg.batch_size):
            exs = [train_set[i] for i in batch[j:j + cfg.batch_size]]
            with acc.accumulate(model):  # gradients are reduced over processes on the step's last pass only
                losses, _ = batch_loss(model, exs, chunked, acc.device, pad_id)
                acc.backward(losses.mean())  # accelerate divides by the passes per step
                if acc.sync_gradients:
                    acc.clip_grad_norm_(params, 1.0)
                opt.step()
                opt.zero_grad(set_to_none=True)
            loss_sum += float(losses.detach().sum())
            n_tok += sum(len(ex["input_ids"]) for ex in exs)
            release_free_memory()
        sched.step()
        loss_all, tok_all = summed(loss_sum, n_tok)
        state["step"] += 1
        state["tokens"] += int(tok_all)
        state["seconds"] += time.time() - t0
        rec = {"step": state["step"], "loss": round(loss_all / cfg.grad_accum, 4), "lr": sched.get_last_lr()[0],
               "peak_rss_gib": round(peak_rss_gib(), 2)}
        if device == "cuda":
            rec["peak_gpu_gib"] = round(peak_gpu_gib(device), 2)
        if val_set and (state["step"] % cfg.eval_every == 0 or state["step"] == total):
            langs = sorted({ex["lang"] for ex in val_set})
            # Each process reads its share with the unwrapped model: a wrapper's forward talks to the other
            # processes (DDP syncs buffers) and the shares differ in size. A sharded model (ZeRO-3, FSDP) cannot
            # run unwrapped: there every process reads all of it, and the sums are divided back.
            sharded = acc.distributed_type.name in ("DEEPSPEED", "FSDP")
            bare, n_read = (model, world) if sharded else (acc.unwrap_model(model), 1)
            parts = {lang: [x / n_read for x in summed(*evaluate_loss(
                bare, [ex for ex in val_set if ex["lang"] == lang][slice(None) if sharded else slice(rank, None, world)],
                chunked, acc.device, pad_id, cfg.batch_size))] for lang in langs}
            rec["val_loss"] = round(sum(v for v, _ in parts.values()) / max(sum(k for _, k in parts.values()), 1), 4)
            if len(langs) > 1:  # mixed-language data: each language's own validation loss
                rec |= {f"val_loss_{lang}": round(v / max(k, 1), 4) for lang, (v, k) in parts.items()}
            if state["best"] is None or rec["val_loss"] < state["best"]["val_loss"]:
                state["best"], state["bad_evals"] = {"step": state["step"], "val_loss": rec["val_loss"]}, 0
                weights = adapter_state(acc, model, get_peft_model_state_dict)
                if acc.is_main_process:
                    save_weights(out / "best", weights)
            else:
                state["bad_evals"] += 1
        state["history"].append(rec)
        bar.set_postfix(loss=f"{rec['loss']:.3f}", tok_s=f"{state['tokens'] / state['seconds']:.0f}",
                        peak_gib=rec["peak_rss_gib"], **({"val": rec["val_loss"]} if "val_loss" in rec else {}))
        bar.update(1)
        stop = cfg.early_stopping_patience and state["bad_evals"] >= cfg.early_stopping_patience
        if stop:
            state["stopped_early"] = True
            say(f"early stop at step {state['step']}: no better validation loss in {state['bad_evals']} evaluations")
        pause = cfg.stop_after and state["step"] >= cfg.stop_after and state["step"] < total and not stop
        if state["step"] % cfg.save_every == 0 or state["step"] == total or stop or pause:
            weights = adapter_state(acc, model, get_peft_model_state_dict)
            if acc.is_main_process:
                save_checkpoint(ckpt, weights, opt, sched, state)
            acc.wait_for_everyone()
        if stop:
            break
        if pause:
            bar.close()
            say(f"stopped after step {state['step']} (stop_after); run again to go on from {ckpt}")
            return ckpt
    bar.close()
    acc.wait_for_everyone()
    info = {"device": device, "dtype": str(dtype).replace("torch.", ""), "processes": world,
            "engine": acc.distributed_type.name}  # NO, MULTI_CPU, MULTI_GPU, DEEPSPEED, FSDP
    weights = adapter_state(acc, model, get_peft_model_state_dict)
    if acc.is_main_process:
        finish(cfg, acc.unwrap_model(model), weights, state, report, out, base, len(train_set), len(val_set), info)
    acc.wait_for_everyone()
    return out / "adapter"


def adapter_state(acc, model, get_state) -> dict:
    """The adapter's weights. Call on every process: where an engine shards them (ZeRO-3, FSDP), they are
    gathered first."""
    unwrapped = acc.unwrap_model(model)
    if acc.distributed_type.name in ("DEEPSPEED", "FSDP"):
        return get_state(unwrapped, state_dict=acc.get_state_dict(model))
    return get_state(unwrapped)


def save_weights(folder: Path, weights: dict) -> None:
    from safetensors.torch import save_file

    with atomic_dir(folder) as tmp:
        save_file({k: v.contiguous() for k, v in weights.items()}, tmp / "adapter.safetensors")


def save_checkpoint(ckpt: Path, weights: dict, opt, sched, state: dict) -> None:
    import torch
    from safetensors.torch import save_file

    with atomic_dir(ckpt) as tmp:  # a kill mid-save leaves the previous checkpoint intact
        save_file({k: v.contiguous() for k, v in weights.items()}, tmp / "adapter.safetensors")
        torch.save(opt.state_dict(), tmp / "optimizer.pt")
        torch.save(sched.state_dict(), tmp / "scheduler.pt")
        write_json_atomic(tmp / "state.json", state)


def finish(cfg, model, weights: dict, state, report, out: Path, base: Path, n_train: int, n_val: int,
           info: dict) -> Path:
    """The adapter: the best validation step's weights when early stopping is on, else the last step's."""
    best = state.get("best")
    if cfg.early_stopping_patience and best and best["step"] != state["step"] and (out / "best").exists():
        from safetensors.torch import load_file

        weights = load_file(out / "best" / "adapter.safetensors")
    with atomic_dir(out / "adapter") as tmp:
        model.save_pretrained(tmp, state_dict=weights)
        _cast_safetensors(tmp / "adapter_model.safetensors", cfg.save_dtype)
        write_json_atomic(tmp / "train_config.json", dataclasses.asdict(cfg) | {"resolved_base": str(base)} | info)
        hist = state["history"]
        vals = [h for h in hist if "val_loss" in h]
        write_json_atomic(tmp / "metrics.json", {
            "steps": state["step"], "train_examples": n_train, "val_examples": n_val, "data_report": str(report),
            "first_loss": hist[0]["loss"] if hist else None, "final_loss": hist[-1]["loss"] if hist else None,
            "final_val_loss": vals[-1]["val_loss"] if vals else None, "best": best,
            "stopped_early": bool(state.get("stopped_early")), "tokens": state["tokens"],
            "tokens_per_s": state["tokens"] / max(state["seconds"], 1e-9), **info,
            "peak_rss_gib": max((h.get("peak_rss_gib", 0) for h in hist), default=None), "history": hist})
    plot_loss(state["history"], out / "loss.png")
    return out / "adapter"


def _cast_safetensors(path: Path, dtype: str) -> None:
    import torch
    from safetensors.torch import load_file, save_file

    tensors = load_file(path)
    save_file({k: v.to(getattr(torch, dtype)).contiguous() for k, v in tensors.items()}, path, metadata={"format": "pt"})


def plot_loss(history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([h["step"] for h in history], [h["loss"] for h in history], label="train")
    vals = [h for h in history if "val_loss" in h]
    if vals:
        ax.plot([h["step"] for h in vals], [h["val_loss"] for h in vals], "o-", label="validation")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="LoRA fine-tuning on medical chain-of-thought data.")
    ap.add_argument("--config", help="YAML with TrainConfig fields")
    add_flags(ap, TrainConfig)
    args = ap.parse_args(argv)
    cfg = resolve(TrainConfig, args.config, vars(args))
    print(f"adapter written to {train(cfg)}")


if __name__ == "__main__":
    main()
