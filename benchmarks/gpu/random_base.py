"""A base with a real model's exact shape (its config and tokenizer) and random weights, for measuring training
throughput and memory where the weights cannot be had: the GPU machine this project is lent reaches no network and
takes at most 64 MiB from here, while the 1.5B is 3.1 GB in bf16. Speed and memory depend on the shapes, not
on the values; validation loss from such a base means nothing (it starts at ln(vocab) ~ 12).

    python -m benchmarks.gpu.random_base SHAPE_DIR OUT_DIR [--tiny]

SHAPE_DIR: a model folder's config.json, tokenizer.json (or tokenizer.json.gz) and chat template, no weights
needed. --tiny shrinks it to 2 narrow layers (a CPU dry run of benchmarks/gpu/run.sh).
"""
from __future__ import annotations

import gzip
import shutil
import sys
import time
from pathlib import Path


def main(argv=None) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    argv = sys.argv[1:] if argv is None else argv
    src, dst = Path(argv[0]), Path(argv[1])
    t = time.time()
    cfg = AutoConfig.from_pretrained(src)
    if "--tiny" in argv:
        cfg.num_hidden_layers, cfg.hidden_size, cfg.intermediate_size = 2, 64, 128
        cfg.num_attention_heads, cfg.num_key_value_heads = 4, 2
        cfg.layer_types = (getattr(cfg, "layer_types", None) or ["full_attention"] * 2)[:2]
    torch.manual_seed(0)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):  # initialising 1.8B on a CPU takes minutes
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
    model.save_pretrained(dst)
    for f in src.iterdir():  # the tokenizer and chat template; the config written above stays
        if f.name.endswith(".json.gz"):
            with gzip.open(f) as a, open(dst / f.name[:-3], "wb") as b:
                shutil.copyfileobj(a, b)
        elif f.is_file() and f.suffix != ".safetensors" and not (dst / f.name).exists():
            shutil.copy(f, dst / f.name)
    n = sum(p.numel() for p in model.parameters())
    print(f"random base: {n / 1e9:.3f}B parameters, {time.time() - t:.1f} s -> {dst}")


if __name__ == "__main__":
    main()
