"""What is trained: the base model (full precision, or 4-bit for QLoRA) wrapped by a PEFT method.

    method: lora     # low-rank updates of the named projections (the shipped recipe: r=16, all projections)
    method: ia3      # (IA)^3: learned rescaling of keys, values and the MLP's down projection (~0.01% params)
    method: prefix   # prefix tuning: num_virtual_tokens learned key/value vectors in front of every layer

All through `peft`; the adapter each writes is loaded the same way (PeftModel.from_pretrained), and LoRA and
(IA)^3 merge into the base for ONNX (model/merge.py). Prefix tuning cannot be merged: it stays an adapter.

Prefix tuning starts from the keys and values the base itself computes for real text (prefix_init: text, as Li &
Liang 2021 recommend), not from peft's random vectors: a random prefix took the 1.5B's loss from 2.1 to 6.2 and a
whole epoch at the recipe's learning rate only brought it to 6.09; a text prefix starts at the base's own loss.
"""
from __future__ import annotations

from pathlib import Path

METHODS = ("lora", "ia3", "prefix")
MERGEABLE = ("lora", "ia3")


def peft_config(cfg):
    from peft import IA3Config, LoraConfig, PrefixTuningConfig

    if cfg.method == "lora":
        return LoraConfig(r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout,
                          target_modules=list(cfg.target_modules), task_type="CAUSAL_LM")
    if cfg.method == "ia3":  # peft's per-architecture defaults (Qwen2: q, v, down; Llama: k, v, down)
        return IA3Config(task_type="CAUSAL_LM")
    if cfg.method == "prefix":
        return PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=cfg.num_virtual_tokens)
    raise ValueError(f"method must be one of {', '.join(METHODS)}, not {cfg.method!r}")


def load_model(cfg, base: Path, dtype, gpu: int = 0):
    """The base in the training dtype (or NF4 with load_in_4bit), wrapped with fresh adapter layers (or
    cfg.init_adapter's), ready to train."""
    from peft import PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM

    kw = {}
    if cfg.load_in_4bit:  # QLoRA: device.check_quantization has made sure this is CUDA with bitsandbytes
        from transformers import BitsAndBytesConfig

        kw = {"quantization_config": BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                                        bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=dtype),
              "device_map": {"": gpu}}  # this process's GPU (accelerate launch: one per process)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=dtype, **kw)
    if cfg.load_in_4bit:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.gradient_checkpointing)
    elif cfg.gradient_checkpointing:
        # Recompute each layer's activations in the backward pass instead of keeping them: the
        # 1.5B run's peak fell from 22.5 GiB to 7.7 GiB over the first steps. (The newer name where it exists.)
        enable = getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable
        enable({"use_reentrant": False})
        model.enable_input_require_grads()
    model.config.use_cache = False
    if cfg.init_adapter:
        return PeftModel.from_pretrained(model, cfg.init_adapter, is_trainable=True)
    peft_model = get_peft_model(model, peft_config(cfg))
    if cfg.method == "prefix" and cfg.prefix_init == "text":
        from transformers import AutoTokenizer

        init_prefix_from_text(peft_model, AutoTokenizer.from_pretrained(base).encode(PREFIX_TEXT))
    return peft_model


# Instructions the model reads well; its first num_virtual_tokens tokens become the starting prefix.
PREFIX_TEXT = ("You are a careful medical assistant. Reason step by step about the clinical question, weigh the "
               "differential diagnosis and the evidence, then give a clear, accurate answer for a clinician. ") * 8


def init_prefix_from_text(peft_model, ids: list[int]) -> None:
    """Set a prefix-tuning adapter's vectors to the base's own keys and values for the first num_virtual_tokens
    of `ids` (positions 0..n-1, where the prefix sits), so training starts as if that text came first."""
    import torch

    cfg = peft_model.active_peft_config
    n = cfg.num_virtual_tokens
    if len(ids) < n:
        raise ValueError(f"prefix tuning: the starting text has {len(ids)} tokens, fewer than num_virtual_tokens={n}")
    base = peft_model.get_base_model()
    emb = peft_model.prompt_encoder[peft_model.active_adapter].embedding
    with torch.no_grad():
        cache = base(input_ids=torch.tensor([ids[:n]], device=emb.weight.device), use_cache=True).past_key_values
        # peft reads each virtual token's row as (layer, key|value, head, head_dim), flattened (PeftModel.get_prompt)
        rows = torch.stack([torch.stack([layer.keys[0], layer.values[0]]) for layer in cache.layers])  # L,2,H,n,D
        emb.weight.copy_(rows.permute(3, 0, 1, 2, 4).reshape(n, -1).to(emb.weight.dtype))
