"""Stage 2 of the build: a GGUF file -> a Hugging Face folder (bf16 safetensors).

transformers reads the GGUF (weights, tokenizer, chat template). It would keep
the weights packed in GGUF blocks and flag the model as GGUF-quantized, which
save_pretrained refuses; we ask it to dequantize and clear that flag, so the
output is a plain dense checkpoint every later stage (LoRA, ONNX) can read.

    python -m medassist.model.convert path/to/model.gguf out_folder
"""
from __future__ import annotations

import sys
from pathlib import Path

from medassist.model.paths import atomic_dir


def gguf_to_hf(gguf: Path, out: Path, dtype: str = "bfloat16") -> Path:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    gguf = Path(gguf)
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=getattr(torch, dtype),
        quantization_config=GgufConfig(gguf_file=str(gguf), dequantize=True),
    )
    # The weights are dense now; drop the GGUF flags so the checkpoint saves as plain safetensors.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.dtype = dtype
    with atomic_dir(out) as tmp:
        model.save_pretrained(tmp, max_shard_size="2GB")
        tok.save_pretrained(tmp)
        if not (tmp / "chat_template.jinja").exists() and tok.chat_template:
            (tmp / "chat_template.jinja").write_text(tok.chat_template)
    del model
    return Path(out)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    print(gguf_to_hf(Path(sys.argv[1]), Path(sys.argv[2])))
