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
                threads: int | None = None, name: str | None = None, endpoint=None) -> Engine:
    """path: an ONNX folder, an HF folder (torch), or None for the default built model; endpoint: a model server."""
    from medassist.model.registry import resolve_model

    if endpoint is not None:
        from medassist.model.engine.remote import RemoteEngine

        return RemoteEngine(endpoint)
    folder = Path(path) if path else resolve_model(name=name, precision=precision, backend=backend)
    if backend == "onnx":
        from medassist.model.engine.onnx_engine import OnnxEngine

        return OnnxEngine(folder, threads=threads)
    if backend == "torch":
        from medassist.model.engine.torch_engine import TorchEngine

        return TorchEngine(folder, threads=threads)
    raise ValueError(f"Unknown backend {backend!r}: use 'onnx' or 'torch'")
