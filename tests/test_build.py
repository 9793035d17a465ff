"""The build pipeline on a tiny local base: stages, resume, atomic outputs, checksums, clear errors."""
import json

import pytest

from medassist.model.build import BuildConfig, build, model_name, verify
from medassist.model.registry import resolve_model
from medassist.model.config import resolve
from medassist.model.paths import ResourceError, check_resources, models_dir


def test_build_int4_then_resume_and_load(tiny_hf):
    cfg = BuildConfig(base=str(tiny_hf), precision="int4", name="tiny")
    out = build(cfg, progress=lambda *a: None)
    assert (out / "genai_config.json").exists()
    record = json.loads((out / "build.json").read_text())
    assert record["options"]["op_types_to_quantize"] == "MatMul/Gather"
    assert "prune_lm_head" not in record["options"]  # the default keeps every position's logits (#21)
    assert record["config"]["precision"] == "int4" and record["peak_rss_gib"] > 0
    manifest = json.loads((models_dir() / "tiny" / "manifest.json").read_text())
    assert "onnx-int4" in manifest["onnx"] and manifest["onnx"]["onnx-int4"]["files"]["model.onnx"]["sha256"]
    assert verify(out) == []

    # A second build with the same settings does no work.
    calls = []
    assert build(cfg, progress=lambda *a: calls.append(a)) == out and calls == []

    from medassist.model.engine import load_engine

    eng = load_engine(name="tiny", precision="int4", threads=1)
    assert eng.info.precision == "int4"
    assert eng.speculative  # so greedy paper work checks prompt-lookup drafts (onnx_engine.py)
    assert eng.generate([{"role": "user", "content": "hi"}], thinking_budget=4, max_new_tokens=4).generated_tokens > 0


def test_killed_build_leaves_no_artifact_and_is_cleaned(tiny_hf):
    folder = models_dir() / "tiny"
    stale = folder / ".onnx-int4.tmp-99999"
    stale.mkdir(parents=True)
    (stale / "model.onnx.data").write_bytes(b"half")
    with pytest.raises(FileNotFoundError):
        resolve_model("tiny", "int4")
    build(BuildConfig(base=str(tiny_hf), precision="int4", name="tiny"), progress=lambda *a: None)
    assert not stale.exists()


def test_corruption_is_detected_and_rebuilt(tiny_hf):
    cfg = BuildConfig(base=str(tiny_hf), precision="fp32", name="tiny", prune_lm_head=False)
    out = build(cfg, progress=lambda *a: None)
    data = out / "model.onnx.data"
    blob = bytearray(data.read_bytes())
    blob[100] ^= 0xFF
    data.write_bytes(bytes(blob))
    assert verify(out) == ["model.onnx.data"]
    said = []
    assert build(cfg, progress=lambda *a: said.append(a[2])) == out
    assert verify(out) == [] and any("rebuilding" in m for m in said)


def test_failed_export_raises_and_leaves_nothing(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text('{"model_type": "not-a-model"}')
    with pytest.raises(RuntimeError, match="ONNX build failed"):
        build(BuildConfig(base=str(bad), precision="int4", name="bad"), progress=lambda *a: None)
    assert not list((models_dir() / "bad").glob("onnx-*"))


def test_unknown_base_and_precision_are_clear_errors():
    with pytest.raises(FileNotFoundError, match="Unknown base"):
        build(BuildConfig(base="no-such-model"), progress=lambda *a: None)
    with pytest.raises(ValueError, match="precision"):
        build(BuildConfig(precision="int3"), progress=lambda *a: None)


def test_resource_check_names_what_is_missing(tmp_path):
    with pytest.raises(ResourceError, match="free disk"):
        check_resources(tmp_path, disk_gb=1e9, ram_gb=0, stage="onnx build")
    with pytest.raises(ResourceError, match="memory"):
        check_resources(tmp_path, disk_gb=0, ram_gb=1e9, stage="onnx build")


def test_config_layers_defaults_yaml_and_flags(tmp_path):
    y = tmp_path / "b.yaml"
    y.write_text("precision: int8\nblock_size: 64\n")
    cfg = resolve(BuildConfig, y, {"block_size": 128, "base": None})
    assert (cfg.precision, cfg.block_size, cfg.base) == ("int8", 128, BuildConfig().base)
    y.write_text("nonsense_key: 1\n")
    with pytest.raises(ValueError, match="nonsense_key"):
        resolve(BuildConfig, y)
    assert model_name(BuildConfig(base="/x/My-Model/", adapter="/a/lora")) == "my-model-lora"


def test_build_killed_mid_way_leaves_nothing_and_the_next_run_completes(tiny_hf):
    """SIGKILL the whole build (CLI and the builder it started) while the ONNX stage is writing."""
    import os
    import signal
    import subprocess
    import sys
    import time

    folder = models_dir() / "killed"
    cmd = [sys.executable, "-m", "medassist.model", "build", "--base", str(tiny_hf), "--name", "killed", "--precision", "fp32",
           "--no-prune-lm-head", "--json-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 60
    while not list(folder.glob(".onnx-fp32.tmp-*")) and time.time() < deadline:
        time.sleep(0.02)
    assert list(folder.glob(".onnx-fp32.tmp-*")), "the build never reached the ONNX stage"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (folder / "onnx-fp32").exists()  # no half-written artifact under the real name
    out = build(BuildConfig(base=str(tiny_hf), name="killed", precision="fp32", prune_lm_head=False),
                progress=lambda *a: None)
    assert verify(out) == [] and not list(folder.glob(".*.tmp-*"))


def test_full_disk_is_a_clear_error(monkeypatch, capsys):
    import errno

    import medassist.model.__main__ as cli

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", "/x/model.onnx.data")

    monkeypatch.setattr(cli, "build", full)
    with pytest.raises(SystemExit, match="the disk is full"):
        cli.main(["build"])


def test_build_with_no_model_named_builds_what_the_app_uses(monkeypatch, capsys):
    import medassist.model.__main__ as cli
    from medassist.model.build import SHIPPED_ADAPTER, default_build_config

    seen = []
    monkeypatch.setattr(cli, "build", lambda cfg, progress: seen.append(cfg) or "/x")
    cli.main(["build", "--precision", "int4"])
    default = default_build_config()
    assert (seen[0].adapter, seen[0].name, seen[0].precision) == (default.adapter, default.name, "int4")
    assert (SHIPPED_ADAPTER / "adapter_config.json").exists() and seen[0].adapter == str(SHIPPED_ADAPTER)
    cli.main(["build", "--base", "qwen2.5-coder-0.5b"])  # a base named: that base as it is
    assert (seen[1].base, seen[1].adapter, seen[1].name) == ("qwen2.5-coder-0.5b", None, None)


def test_a_new_shipped_adapter_marks_the_built_model_stale(tmp_path):
    import json

    from medassist.model.build import adapter_sha256, merged_from_other_adapter
    from medassist.model.paths import models_dir

    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    (adapter / "adapter_model.safetensors").write_bytes(b"v1")
    cfg = BuildConfig(adapter=str(adapter), name="base-medassist")
    assert not merged_from_other_adapter(cfg)  # never built: the normal first run builds it
    stage = models_dir() / "base-medassist" / "hf-merged" / "stage.json"
    stage.parent.mkdir(parents=True)
    stage.write_text(json.dumps({"adapter_sha256": adapter_sha256(adapter)}))
    assert not merged_from_other_adapter(cfg)
    (adapter / "adapter_model.safetensors").write_bytes(b"v2")  # an update ships new weights
    assert merged_from_other_adapter(cfg)
    assert not merged_from_other_adapter(BuildConfig(name="base-medassist"))  # no adapter: nothing to compare
