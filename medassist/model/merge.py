"""Stage 3: merge a LoRA adapter into its base weights (a plain HF folder the ONNX builder can read).

    python -m medassist.model.merge BASE_HF_FOLDER ADAPTER_FOLDER OUT_FOLDER
(python -m medassist.model build --adapter ADAPTER runs this for you, then exports ONNX.)
"""
from __future__ import annotations

import sys
from pathlib import Path

from medassist.model.paths import atomic_dir, write_json_atomic


def merge_adapter(base: Path, adapter: Path, out: Path, dtype: str = "bfloat16") -> Path:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(base, dtype=getattr(torch, dtype))
    merged = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    with atomic_dir(out) as tmp:
        merged.save_pretrained(tmp, max_shard_size="2GB")
        AutoTokenizer.from_pretrained(base).save_pretrained(tmp)
        for name in ("chat_template.jinja", "generation_config.json"):
            if (Path(base) / name).exists() and not (tmp / name).exists():
                (tmp / name).write_bytes((Path(base) / name).read_bytes())
        write_json_atomic(tmp / "stage.json", {"stage": "merge", "base": str(base), "adapter": str(adapter)})
    return Path(out)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    print(merge_adapter(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])))
