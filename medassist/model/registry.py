"""The one model registry: model names, the fine-tuned suffix, the folder layout of a built model, and
finding a built model. Build, engine, finetune and evals all read it, so a name or folder is spelled once.

    $MEDASSIST_HOME/models/<name>/          (default ~/.cache/medassist, medassist.model.paths)
        source.gguf   hf/   hf-merged/   onnx-<precision>/   manifest.json

    from medassist.model import registry
    registry.resolve_model()                      # the default built model's ONNX folder
    registry.tuned_name("qwen2.5-coder-1.5b")     # -> "qwen2.5-coder-1.5b-medassist"
"""
from __future__ import annotations

from pathlib import Path

from medassist.model import bases
from medassist.model.paths import models_dir

TUNED_SUFFIX = "-medassist"  # base + the shipped (or a freshly trained) LoRA adapter, merged
SOURCE_GGUF, HF_DIR, MERGED_DIR, MANIFEST = "source.gguf", "hf", "hf-merged", "manifest.json"
PRECISIONS = ("int4", "int8", "fp32")
# Chosen by benchmarks/onnx_levers.py (docs/benchmarks.md): INT8 with 256-blocks reproduced PyTorch's greedy
# output token for token and read prompts fastest; INT4 with 128-blocks decodes fastest but loses accuracy.
DEFAULT_PRECISION = "int8"


def onnx_dir_name(precision: str) -> str:
    return f"onnx-{precision}"


def short_name(base: str) -> str:
    """A bundled base's own name, else the file, folder or hub id's last part, lower-cased (no .gguf)."""
    if base in bases.BUNDLED:
        return base
    name = Path(base.rstrip("/")).name.lower()
    return name[: -len(".gguf")] if name.endswith(".gguf") else name


def model_name(base: str, adapter: str | None = None, name: str | None = None) -> str:
    if name:
        return name
    return short_name(base) + ("-" + Path(adapter.rstrip("/")).name if adapter else "")


def tuned_name(base: str = bases.DEFAULT_BASE) -> str:
    return short_name(base) + TUNED_SUFFIX


def model_dir(name: str) -> Path:
    return models_dir() / name


def default_name() -> str:
    """The fine-tuned model when it has been built, else the base."""
    tuned = tuned_name()
    return tuned if model_dir(tuned).exists() else bases.DEFAULT_BASE


def built_models() -> dict[str, list[str]]:
    """Every model on this computer that an engine can load: {name: [its onnx-* folders]} (built or registered)."""
    out = {}
    for d in sorted(models_dir().glob("*/onnx-*/genai_config.json")):
        out.setdefault(d.parent.parent.name, []).append(d.parent.name)
    return out


def resolve_model(name: str | None = None, precision: str | None = None, backend: str = "onnx") -> Path:
    """The folder an engine loads: onnx-<precision>/ for ONNX, hf-merged/ or hf/ for PyTorch."""
    name = name or default_name()
    folder = model_dir(name)
    if backend == "torch":
        for sub in (MERGED_DIR, HF_DIR):
            if (folder / sub / "config.json").exists():
                return folder / sub
        raise FileNotFoundError(f"No Hugging Face weights for {name} in {folder}. "
                                "Build first: medassist-model build")
    path = folder / onnx_dir_name(precision or DEFAULT_PRECISION)
    if not (path / "genai_config.json").exists():
        built = sorted(p.name for p in folder.glob("onnx-*")) if folder.exists() else []
        if not precision and built:
            return folder / built[0]
        raise FileNotFoundError(f"Model {name} ({precision or DEFAULT_PRECISION}) is not built yet. "
                                f"Build it with: medassist-model build --precision {precision or DEFAULT_PRECISION}")
    return path
