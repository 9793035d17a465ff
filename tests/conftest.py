"""Shared fixtures: tiny models (built once per session) and an isolated MEDASSIST_HOME."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Shared data beside the repo (../shared/data); tests that use it skip cleanly where it is absent.
from medassist.model.paths import shared_data  # noqa: E402

SHARED = shared_data()


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDASSIST_HOME", str(tmp_path / "home"))


@pytest.fixture(scope="session")
def tiny_hf(tmp_path_factory) -> Path:
    from tests.tiny import make_model

    return make_model(tmp_path_factory.mktemp("tiny") / "hf")


@pytest.fixture(scope="session")
def tiny_onnx_fp32(tiny_hf, tmp_path_factory) -> Path:
    from medassist.model.build import BuildConfig, stage_onnx

    out = tmp_path_factory.mktemp("tiny-onnx")
    return stage_onnx(BuildConfig(base=str(tiny_hf), precision="fp32", prune_lm_head=False), tiny_hf, out,
                      progress=lambda *a: None)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED.exists():
        pytest.skip(f"shared data not found at {SHARED}")
    return SHARED
