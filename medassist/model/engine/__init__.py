"""Load an engine for a built model folder. The UI calls only load_engine() and Engine.stream().

    from medassist.model.engine import load_engine
    engine = load_engine()                       # the default built model, ONNX
    engine = load_engine("path/to/onnx-int4")    # a specific folder
    engine = load_engine(endpoint=Endpoint(url="http://127.0.0.1:8080/v1", model="m"))   # a model server
"""
from __future__ import annotations

from pathlib import Path

from medassist.model.engine.base import Chunk, Engine, EngineInfo, Result  # noqa: F401
from medassist.model.engine.local import LocalEngine  # noqa: F401


def load_engine(path: str | Path | None = None, *, backend: str = "onnx", precision: str | None = None,
                threads: int | None = None, name: str | None = None, endpoint=None, adapter=None) -> Engine:
    """path: an ONNX folder, an HF folder (torch), or None for the default built model; endpoint: a model server;
    adapter: a PEFT adapter folder read beside an HF base (torch only; its own base when path is None)."""
    from medassist.model.registry import resolve_model

    if endpoint is not None:
        from medassist.model.engine.remote import RemoteEngine

        return RemoteEngine(endpoint)
    if adapter is not None:
        if backend != "torch":
            raise ValueError("an adapter is read beside its base by the torch backend only (for ONNX, build it: "
                             "python -m medassist.model build --adapter ADAPTER)")
        if path is None:
            path = adapter_base(Path(adapter))
    folder = Path(path) if path else resolve_model(name=name, precision=precision, backend=backend)
    if backend == "onnx":
        from medassist.model.engine.onnx_engine import OnnxEngine

        return OnnxEngine(folder, threads=threads)
    if backend == "torch":
        from medassist.model.engine.torch_engine import TorchEngine

        return TorchEngine(folder, threads=threads, adapter=adapter, dtype=torch_dtype(precision))
    raise ValueError(f"Unknown backend {backend!r}: use 'onnx' or 'torch'")


TORCH_DTYPES = {"bf16": "bfloat16", "bfloat16": "bfloat16", "fp32": "float32", "float32": "float32",
                "fp16": "float16", "float16": "float16"}


def torch_dtype(precision: str | None) -> str:
    """The PyTorch backend's precision: bf16 unless asked (fp32 is the reference that bf16 itself rounds)."""
    if precision is None:
        return "bfloat16"
    if precision not in TORCH_DTYPES:
        raise ValueError(f"the torch backend runs {', '.join(sorted(set(TORCH_DTYPES)))}, not {precision!r}")
    return TORCH_DTYPES[precision]


def adapter_base(adapter: Path) -> Path:
    """The base folder an adapter was trained on (its adapter_config.json says), when it is on this machine."""
    from medassist.model.engine.torch_engine import adapter_config

    base = Path(adapter_config(adapter).get("base_model_name_or_path") or "")
    if not (base / "config.json").is_file():
        raise FileNotFoundError(f"{adapter}: its base {str(base) or '(not named)'} is not a folder here; "
                                "give the base with --model-path")
    return base
