"""Serve the fine-tuned model on an existing serving engine (vLLM on a GPU machine) for a whole department.

    medassist-model serving --out serve/      # writes serve/chat_template.jinja and serve/serve-vllm.sh

MedAssist's fine-tuned model was trained with the assistant turn opened by "<think>\\n" (medassist/model/chat.py).
A serving engine renders the chat itself, so it must get the same template, with that opening added; otherwise
the model is asked differently from how it was trained. vLLM's deepseek_r1 reasoning parser then puts the
reasoning in `reasoning_content` (it accepts output whose "<think>" was in the prompt), which is what MedAssist's
remote engine reads. Two ways, both in the script: the merged folder `finetune/` (and the build) leave at
<models>/<name>/hf-merged, or the base model plus the shipped LoRA adapter through vLLM's LoRA support.
Every clinician's MedAssist then points at the server (Settings → Models, or --endpoint).
"""
from __future__ import annotations

from pathlib import Path

from medassist.model.chat import THINK_OPEN, load_chat_template

OPEN = "{% if add_generation_prompt %}" + THINK_OPEN + "\n{% endif %}"


def serving_template(model_dir: str | Path) -> str:
    """The model's own chat template, with the assistant turn opened in the thinking phase (unless it already is)."""
    tpl = load_chat_template(model_dir)
    return tpl if THINK_OPEN in tpl.split("add_generation_prompt")[-1] else tpl.rstrip("\n") + OPEN


SCRIPT = """#!/usr/bin/env bash
# Serve MedAssist's fine-tuned model with vLLM (on a GPU machine), OpenAI-compatible on port 8000.
# Then, on each clinician's computer: Settings -> Models -> Add a model server -> http://<this machine>:8000/v1
# (or: medassist --endpoint http://<this machine>:8000/v1 --model medassist). Add --api-key to require a key.
# Copied to another machine: set MERGED, BASE and ADAPTER to where the folders are there.
set -euo pipefail
cd "$(dirname "$0")"
WAY="${{1:-merged}}"
MERGED="${{MERGED:-{merged}}}"
BASE="${{BASE:-{base}}}"
ADAPTER="${{ADAPTER:-{adapter}}}"
if [ "$WAY" = merged ]; then
  # The merged weights (base + LoRA), as the build and finetune/ leave them:
  exec vllm serve "$MERGED" --served-model-name medassist \\
    --chat-template chat_template.jinja --reasoning-parser deepseek_r1 --port 8000
else
  # The base model plus the LoRA adapter, kept separate (several adapters can share one base):
  exec vllm serve "$BASE" --enable-lora --max-lora-rank {rank} --lora-modules medassist="$ADAPTER" \\
    --chat-template chat_template.jinja --reasoning-parser deepseek_r1 --port 8000
fi
"""


def write_serving(out: str | Path, name: str | None = None) -> Path:
    """chat_template.jinja and serve-vllm.sh for the built fine-tuned model `name` (default: the default one)."""
    import json

    from medassist.model.build import SHIPPED_ADAPTER
    from medassist.model.registry import HF_DIR, MERGED_DIR, model_dir, tuned_name

    name = name or tuned_name()
    folder = model_dir(name)
    merged = folder / MERGED_DIR
    if not (merged / "config.json").exists():
        raise FileNotFoundError(f"No merged model at {merged}: build it first (medassist-model build) or run finetune/")
    base_hf = next((p for p in sorted(folder.parent.glob(f"*/{HF_DIR}")) if name.startswith(p.parent.name)), merged)
    rank = json.loads((SHIPPED_ADAPTER / "adapter_config.json").read_text())["r"]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "chat_template.jinja").write_text(serving_template(merged), encoding="utf-8")
    script = out / "serve-vllm.sh"
    script.write_text(SCRIPT.format(merged=merged, base=base_hf, adapter=SHIPPED_ADAPTER, rank=rank), encoding="utf-8")
    script.chmod(0o755)
    return out
