"""PyTorch backend: the reference implementation, used for parity checks,
training-time evaluation and the benchmark's bf16 row.

A KV state over transformers' cache: the engine's token loop (local.py) drives it
exactly as it drives the ONNX backend.

A PEFT adapter can be read beside its base (adapter=ADAPTER_FOLDER), to score a fine-tune without building it:
LoRA and (IA)^3 are merged into the weights in memory (as model/merge.py does for ONNX); prefix tuning cannot
be merged, so every KV state starts from the adapter's learned keys and values, as peft's own forward does in
training (the prompt's positions start after them) -- generation and cached follow-ups then work unchanged.

    python -m medassist.model ask "..." --backend torch
    python -m medassist.evals.evaluate --data FILE.jsonl --engine torch --adapter ADAPTER_FOLDER
"""
from __future__ import annotations

import json
from pathlib import Path

from medassist.model import chat as P
from medassist.model.engine.base import EngineInfo
from medassist.model.engine.local import LocalEngine


class TorchSession:
    """transformers' KV cache over one sequence; the engine samples (sampling.py)."""

    def __init__(self, model, capacity: int, prefix=None):
        from transformers import DynamicCache

        self.model, self.capacity, self.tokens = model, capacity, []
        # prefix: a DynamicCache already holding a prefix-tuned adapter's virtual tokens (never part of `tokens`;
        # rewind crops relative to the end, so it cannot cut into them).
        self.cache, self.last = prefix if prefix is not None else DynamicCache(config=model.config), None

    def feed(self, ids: list[int]) -> None:
        import torch

        with torch.inference_mode():
            out = self.model(input_ids=torch.tensor([list(ids)]), past_key_values=self.cache, use_cache=True,
                             logits_to_keep=1)
        self.last = out.logits[0, -1].float().numpy()
        self.tokens.extend(ids)

    def logits(self):
        return self.last

    def rewind(self, n: int) -> None:
        self.cache.crop(n - len(self.tokens))  # transformers 5: a negative count of tokens to remove
        del self.tokens[n:]


class TorchEngine(LocalEngine):
    def __init__(self, path: str | Path, *, dtype: str = "bfloat16", threads: int | None = None, name: str | None = None,
                 model=None, tokenizer=None, adapter: str | Path | None = None):
        super().__init__()
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if threads:
            torch.set_num_threads(threads)
        self.path = Path(path)
        self.tokenizer = tokenizer or AutoTokenizer.from_pretrained(self.path)
        self.model = model or AutoModelForCausalLM.from_pretrained(self.path, dtype=getattr(torch, dtype))
        self._prefix = None  # prefix tuning: builds a fresh cache holding the adapter's virtual tokens
        if adapter:
            self.model, self._prefix = with_adapter(self.model, Path(adapter))
        self.model.eval()
        self.chat_template = P.load_chat_template(self.path) if (self.path / "tokenizer_config.json").exists() \
            else self.tokenizer.chat_template
        self.special = {"bos_token": self.tokenizer.bos_token or "", "eos_token": self.tokenizer.eos_token or ""}
        self.eos_ids = set(_as_list(self.model.config.eos_token_id))
        gen_cfg = self.path / "generation_config.json"
        if gen_cfg.exists():
            self.eos_ids |= set(_as_list(json.loads(gen_cfg.read_text()).get("eos_token_id")))
        if self.tokenizer.eos_token_id is not None:
            self.eos_ids.add(self.tokenizer.eos_token_id)
        self.info = EngineInfo(name or (self.path.name + (f"+{Path(adapter).name}" if adapter else "")), "torch",
                               dtype, str(self.path) + (f" + {adapter}" if adapter else ""))

    @property
    def context_length(self) -> int:
        return int(getattr(self.model.config, "max_position_embeddings", 32768))

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False)

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=False)

    def new_session(self, capacity: int) -> TorchSession:
        return TorchSession(self.model, capacity, self._prefix() if self._prefix else None)


def adapter_config(adapter: Path) -> dict:
    """A PEFT adapter folder's adapter_config.json (a clear error for any other folder)."""
    cfg = Path(adapter) / "adapter_config.json"
    if not cfg.is_file():
        raise FileNotFoundError(f"{adapter}: not a PEFT adapter folder (no adapter_config.json)")
    return json.loads(cfg.read_text())


def with_adapter(model, adapter: Path):
    """(the model to run, a prefix-cache builder or None) for a PEFT adapter folder on `model`."""
    import torch

    adapter_config(adapter)
    from peft import PeftModel

    peft_model = PeftModel.from_pretrained(model, adapter)
    if not peft_model.active_peft_config.is_prompt_learning:
        return peft_model.merge_and_unload(), None
    if peft_model.active_peft_config.peft_type.value != "PREFIX_TUNING":
        raise ValueError(f"{adapter}: {peft_model.active_peft_config.peft_type.value} adapters are not supported "
                         "(LoRA, (IA)^3 and prefix tuning are)")

    def prefix():
        with torch.inference_mode():
            return peft_model.get_prompt(batch_size=1)  # a DynamicCache of num_virtual_tokens positions
    return peft_model.get_base_model(), prefix


def _as_list(v) -> list[int]:
    if v is None:
        return []
    return list(v) if isinstance(v, (list, tuple)) else [v]
