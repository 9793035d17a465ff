"""Stage 2: LoRA supervised fine-tuning on medical chain-of-thought (completion-only loss).

    medassist-train --config medassist/finetune/configs/default.yaml [--max-steps 10] [--out runs/x]

Each example is rendered by medassist/model/chat.py exactly as inference renders it; prompt tokens get
label -100, so only the reasoning + answer + EOS are learned. Batch size 1 with gradient
accumulation (no padding), warmup then cosine/linear decay, eval loss on the validation split,
a checkpoint every `save_every` optimizer steps (interrupt and run again to resume), and at the
end: out/adapter/ (safetensors + train_config.json + metrics.json) and out/loss.png.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import random
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

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
    grad_accum: int = 8
    warmup_ratio: float = 0.1
    schedule: str = "cosine"  # cosine | linear
    max_seq_len: int = 1024
    val_fraction: float = 0.1
    eval_every: int = 10
    save_every: int = 5
    seed: int = 0
    dtype: str = "auto"  # auto = bf16 where the CPU supports it, else fp32
    gradient_checkpointing: bool = True
    chunked_loss: bool = True  # loss over slices of logits (see chunked_loss); False = the model's own loss
    threads: int = 0
    save_dtype: str = "bfloat16"  # the shipped adapter: r=16 on every projection of the 1.5B is 37 MB in bf16
    # Start from this adapter's weights instead of fresh LoRA layers (another pass over the data with
    # a new optimizer and schedule); its own adapter_config.json decides r, alpha and targets.
    init_adapter: str = ""
    mmap_threshold_mib: int = 1  # glibc: allocations this big get their own mapping (see limit_heap_growth); 0 = glibc's default


def resolve_base(base: str) -> Path:
    p = Path(base).expanduser()
    if p.is_dir():
        return p
    from medassist.model.registry import resolve_model

    return resolve_model(base, backend="torch")


def encode_example(tok, template: str, ex, max_len: int) -> dict:
    prompt, completion = P.training_pair(template, ex.question, ex.reasoning, ex.answer,
                                         bos_token=tok.bos_token or "", eos_token=tok.eos_token)
    p_ids = tok.encode(prompt, add_special_tokens=False)
    c_ids = tok.encode(completion, add_special_tokens=False)
    ids = (p_ids + c_ids)[:max_len]
    labels = ([-100] * len(p_ids) + c_ids)[:max_len]
    return {"input_ids": ids, "labels": labels}


def pick_dtype(name: str):
    import torch

    if name == "auto":
        ok = getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)()
        return torch.bfloat16 if ok else torch.float32
    return getattr(torch, name)


def peak_rss_gib() -> float:
    """This process's peak resident memory so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**30 if sys.platform == "darwin" else 2**20)


@functools.lru_cache(maxsize=1)
def _glibc():
    """The C library's handle where it is glibc (Linux), else None (macOS, Windows, musl)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None
    except OSError:
        return None


def release_free_memory() -> None:
    """Hand freed heap back to the OS after each example. Without it, glibc's heap kept every step's
    differently sized activations: the full-epoch run grew from 7.7 GiB after 3 steps to 14.6 GiB."""
    if libc := _glibc():
        libc.malloc_trim(0)


def limit_heap_growth(mib: int) -> None:
    """Serve every allocation of `mib` MiB or more from its own mmap, so freeing it returns it to the OS.
    glibc's default threshold climbs to 32 MiB after the first large frees, so the 1-30 MiB activations of
    a 1,024-token step land on the heap, where differently sized steps fragment it: with malloc_trim
    alone a full epoch still climbed from 7.5 to 9 GiB over 13 steps. With 1 MiB it stayed at 5.3 GiB,
    but every fresh mapping is page-faulted again: 0.68x the tokens/s. 0 keeps glibc's default."""
    if mib and (libc := _glibc()):
        libc.mallopt(-3, mib << 20)  # -3 = M_MMAP_THRESHOLD


def lr_lambda(schedule: str, warmup: int, total: int):
    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress))) if schedule == "cosine" else max(0.0, 1 - progress)
    return f


LOSS_CHUNK = 256  # positions per slice of logits in chunked_loss


def chunked_loss(model, ids, labels):
    """Mean next-token cross-entropy over the learned positions, without the full logits tensor.

    The model's own loss keeps logits for every position (1,024 x 151,936 vocab: 0.3 GB in bf16, then
    fp32 copies for the softmax and its gradient). Here only the positions whose next token is learned
    are projected, in slices of LOSS_CHUNK, each recomputed in the backward pass instead of kept:
    peak 5.4 vs 6.2 GiB on 1,024-token examples, same speed (benchmarks/train_memory.py). Same value
    as the model's loss (tests/test_finetune.py checks it; a full run matched to 4 decimals)."""
    import torch.nn.functional as F
    from torch.utils.checkpoint import checkpoint

    lm = model.get_base_model()
    hidden = lm.model(input_ids=ids).last_hidden_state[0, :-1]
    target = labels[0, 1:]
    keep = target != -100
    hidden, target = hidden[keep], target[keep]

    def piece(h, y):
        return F.cross_entropy(lm.lm_head(h).float(), y, reduction="sum")

    total = sum(checkpoint(piece, hidden[i:i + LOSS_CHUNK], target[i:i + LOSS_CHUNK], use_reentrant=False)
                for i in range(0, len(target), LOSS_CHUNK))
    return total / max(len(target), 1)


def plain_head(model) -> bool:
    """Logits are just lm_head(hidden): true of Qwen2/Llama; not of models that scale or soft-cap them."""
    lm = model.get_base_model()
    cfg = lm.config
    return (hasattr(lm, "model") and hasattr(lm, "lm_head") and not getattr(cfg, "final_logit_softcapping", None)
            and getattr(cfg, "logit_scale", 1.0) in (None, 1.0))


def example_loss(model, ex, chunked: bool = True) -> tuple:
    import torch

    ids, labels = torch.tensor([ex["input_ids"]]), torch.tensor([ex["labels"]])
    n = sum(1 for x in ex["labels"][1:] if x != -100)
    if chunked and plain_head(model):
        return chunked_loss(model, ids, labels), n
    return model(input_ids=ids, labels=labels).loss, n


def evaluate_loss(model, examples, chunked: bool = True) -> float:
    import torch

    model.eval()
    total, n = 0.0, 0
    with torch.no_grad():
        for ex in examples:
            loss, k = example_loss(model, ex, chunked)
            total, n = total + loss.item() * k, n + k
            release_free_memory()  # without it, RSS climbed 8 -> 10.6 GiB in one validation pass (12.6 next step)
    model.train()
    return total / max(n, 1)


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
    val_set = [encode_example(tok, template, e, cfg.max_seq_len) for e in val_ex]
    # An example whose prompt alone fills max_seq_len has nothing left to learn from: drop it, say so.
    n_before = len(train_set) + len(val_set)
    train_set = [e for e in train_set if any(x != -100 for x in e["labels"])]
    val_set = [e for e in val_set if any(x != -100 for x in e["labels"])]
    if len(train_set) + len(val_set) < n_before:
        log(f"skipped {n_before - len(train_set) - len(val_set)} examples whose prompt fills max_seq_len={cfg.max_seq_len}")
    if not train_set:
        raise data.DataError(f"no training example fits in max_seq_len={cfg.max_seq_len}")
    return tok, template, train_set, val_set, report


def load_lora_model(cfg: TrainConfig, base: Path):
    """The base in the training dtype, wrapped with fresh LoRA layers (or cfg.init_adapter's), ready to train."""
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base, dtype=pick_dtype(cfg.dtype))
    if cfg.gradient_checkpointing:
        # Recompute each layer's activations in the backward pass instead of keeping them: the
        # 1.5B run's peak fell from 22.5 GiB to 7.7 GiB over the first steps. (The newer name where it exists.)
        enable = getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable
        enable({"use_reentrant": False})
        model.enable_input_require_grads()
    model.config.use_cache = False
    if cfg.init_adapter:
        return PeftModel.from_pretrained(model, cfg.init_adapter, is_trainable=True)
    return get_peft_model(model, LoraConfig(r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout,
                                            target_modules=list(cfg.target_modules), task_type="CAUSAL_LM"))


def train(cfg: TrainConfig, log=print) -> Path:
    import torch
    from peft import get_peft_model_state_dict, set_peft_model_state_dict
    from tqdm import tqdm

    limit_heap_growth(cfg.mmap_threshold_mib)
    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    base = resolve_base(cfg.base)
    tok, template, train_set, val_set, report = encoded_splits(cfg, base, log)
    model = load_lora_model(cfg, base)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
    steps_per_epoch = max(1, len(train_set) // cfg.grad_accum)
    total = cfg.max_steps or max(1, round(cfg.epochs * steps_per_epoch))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(cfg.schedule, round(cfg.warmup_ratio * total), total))

    state = {"step": 0, "history": [], "tokens": 0, "seconds": 0.0}
    ckpt = out / "checkpoint"
    if (ckpt / "state.json").exists():  # resume after an interruption
        from safetensors.torch import load_file

        set_peft_model_state_dict(model, load_file(ckpt / "adapter.safetensors"))
        opt.load_state_dict(torch.load(ckpt / "optimizer.pt", weights_only=True))
        sched.load_state_dict(torch.load(ckpt / "scheduler.pt", weights_only=True))
        state = json.loads((ckpt / "state.json").read_text())
        log(f"resuming from step {state['step']}")

    def order(epoch: int) -> list[int]:
        idx = list(range(len(train_set)))
        random.Random(cfg.seed + epoch).shuffle(idx)
        return idx

    model.train()
    bar = tqdm(total=total, initial=state["step"], desc="train", unit="step")
    while state["step"] < total:
        step = state["step"]
        epoch, within = divmod(step, steps_per_epoch)
        batch = [train_set[i] for i in order(epoch)[within * cfg.grad_accum:(within + 1) * cfg.grad_accum]]
        t0, n_tok, loss_sum = time.time(), 0, 0.0
        for ex in batch:
            loss, k = example_loss(model, ex, cfg.chunked_loss)
            (loss / len(batch)).backward()
            loss_sum += loss.item() / len(batch)
            n_tok += len(ex["input_ids"])
            release_free_memory()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        state["step"] += 1
        state["tokens"] += n_tok
        state["seconds"] += time.time() - t0
        rec = {"step": state["step"], "loss": round(loss_sum, 4), "lr": sched.get_last_lr()[0],
               "peak_rss_gib": round(peak_rss_gib(), 2)}
        if val_set and (state["step"] % cfg.eval_every == 0 or state["step"] == total):
            rec["val_loss"] = round(evaluate_loss(model, val_set, cfg.chunked_loss), 4)
        state["history"].append(rec)
        bar.set_postfix(loss=f"{loss_sum:.3f}", tok_s=f"{state['tokens'] / state['seconds']:.0f}", peak_gib=rec["peak_rss_gib"],
                        **({"val": rec["val_loss"]} if "val_loss" in rec else {}))
        bar.update(1)
        if state["step"] % cfg.save_every == 0 or state["step"] == total:
            save_checkpoint(ckpt, model, opt, sched, state, get_peft_model_state_dict)
    bar.close()
    return finish(cfg, model, tok, template, state, report, out, base, len(train_set), len(val_set))


def save_checkpoint(ckpt: Path, model, opt, sched, state: dict, get_state) -> None:
    import torch
    from safetensors.torch import save_file

    with atomic_dir(ckpt) as tmp:  # a kill mid-save leaves the previous checkpoint intact
        save_file({k: v.contiguous() for k, v in get_state(model).items()}, tmp / "adapter.safetensors")
        torch.save(opt.state_dict(), tmp / "optimizer.pt")
        torch.save(sched.state_dict(), tmp / "scheduler.pt")
        write_json_atomic(tmp / "state.json", state)


def finish(cfg, model, tok, template, state, report, out: Path, base: Path, n_train: int, n_val: int) -> Path:
    with atomic_dir(out / "adapter") as tmp:
        model.save_pretrained(tmp)
        _cast_safetensors(tmp / "adapter_model.safetensors", cfg.save_dtype)
        write_json_atomic(tmp / "train_config.json", dataclasses.asdict(cfg) | {"resolved_base": str(base)})
        hist = state["history"]
        vals = [h for h in hist if "val_loss" in h]
        write_json_atomic(tmp / "metrics.json", {
            "steps": state["step"], "train_examples": n_train, "val_examples": n_val, "data_report": str(report),
            "first_loss": hist[0]["loss"] if hist else None, "final_loss": hist[-1]["loss"] if hist else None,
            "final_val_loss": vals[-1]["val_loss"] if vals else None, "tokens": state["tokens"],
            "tokens_per_s": state["tokens"] / max(state["seconds"], 1e-9),
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
