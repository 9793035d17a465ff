"""Export for llama.cpp, Ollama and LM Studio: a model (the merged fine-tuned HF folder) as one GGUF file, or a
LoRA adapter as a GGUF LoRA (llama.cpp's --lora), with llama.cpp's own converter scripts.

    medassist-gguf qwen2.5-coder-1.5b-medassist                 # -> <models>/<name>/<name>-q8_0.gguf
    medassist-gguf runs/x/hf-merged --outtype f16 --out model.gguf
    medassist-gguf --lora runs/x/adapter --base qwen2.5-coder-1.5b --out medassist-lora.gguf

The scripts ship in llama-cpp-python's source distribution on PyPI (vendor/llama.cpp: convert_hf_to_gguf.py, its conversion/ package,
convert_lora_to_gguf.py and the gguf-py package they are written against); the first export fetches it once with
pip (~77 MB, from the package index: works where PyPI is reachable, as it is for this project) and keeps those
files under the models folder. The converter writes f16, bf16 or q8_0; 4-bit k-quants (Q4_K_M) need llama.cpp's
compiled llama-quantize, which this does not build. Then, for Ollama: `FROM ./<file>.gguf` in a Modelfile.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from medassist.model.paths import models_dir

LLAMA_CPP_PYTHON = "0.3.36"  # the version requirements-server-test.txt pins (its vendored llama.cpp)
NEEDED = ("convert_hf_to_gguf.py", "convert_lora_to_gguf.py", "conversion/", "gguf-py/")


def converter_dir(log=print) -> Path:
    """llama.cpp's converter scripts and gguf-py, fetched once from llama-cpp-python's sdist."""
    dest = models_dir().parent / "tools" / f"llama.cpp-{LLAMA_CPP_PYTHON}"
    if (dest / "convert_hf_to_gguf.py").exists():
        return dest
    log(f"fetching llama.cpp's converter (llama-cpp-python {LLAMA_CPP_PYTHON} source, ~77 MB) ...")
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                               f"llama-cpp-python=={LLAMA_CPP_PYTHON}", "-d", tmp, "-q"], capture_output=True, text=True)
        sdists = list(Path(tmp).glob("llama_cpp_python-*.tar.gz"))
        if done.returncode or not sdists:
            raise RuntimeError("could not fetch llama-cpp-python's source from the package index "
                               f"({done.stderr.strip()[-300:] or 'no file'}); GGUF export needs it once")
        staging = Path(tmp) / "out"
        with tarfile.open(sdists[0]) as tar:
            prefix = f"{tar.getnames()[0].split('/')[0]}/vendor/llama.cpp/"
            members = [m for m in tar.getmembers() if m.name.startswith(prefix)
                       and any(m.name[len(prefix):].startswith(n) for n in NEEDED) and (m.isfile() or m.isdir())]
            for m in members:
                m.name = m.name[len(prefix):]
            tar.extractall(staging, members=members, filter="data")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staging), dest)
    return dest


def _run(script: str, args: list[str]) -> None:
    tools = converter_dir()
    env = os.environ | {"PYTHONPATH": str(tools / "gguf-py") + os.pathsep + os.environ.get("PYTHONPATH", ""),
                        "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, str(tools / script), *args], env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{script} failed: {done.stderr.strip()[-800:]}")


def export_model(hf_folder: Path, out: Path, outtype: str = "q8_0") -> Path:
    """A Hugging Face folder (a merged fine-tune) as one GGUF file."""
    _run("convert_hf_to_gguf.py", [str(hf_folder), "--outfile", str(out), "--outtype", outtype])
    return out


def export_lora(adapter: Path, base: Path, out: Path, outtype: str = "f16") -> Path:
    """A PEFT LoRA adapter as a GGUF LoRA for `llama-server -m base.gguf --lora <out>`."""
    _run("convert_lora_to_gguf.py", [str(adapter), "--base", str(base), "--outfile", str(out), "--outtype", outtype])
    return out


def main(argv=None) -> None:
    from medassist.model.registry import resolve_model

    ap = argparse.ArgumentParser(description="Export a model or a LoRA adapter as GGUF (llama.cpp, Ollama, LM Studio).")
    ap.add_argument("model", nargs="?", help="a built model's name or an HF folder (the merged fine-tune)")
    ap.add_argument("--lora", help="a LoRA adapter folder to convert instead")
    ap.add_argument("--base", help="with --lora: the base model's name or HF folder")
    ap.add_argument("--outtype", default=None, help="q8_0 (model default), f16 (LoRA default), bf16")
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)

    def folder(name: str) -> Path:
        return Path(name) if Path(name).is_dir() else resolve_model(name, backend="torch")

    try:
        if a.lora:
            out = Path(a.out or Path(a.lora).with_suffix(".gguf"))
            print(f"wrote {export_lora(Path(a.lora), folder(a.base or ''), out, a.outtype or 'f16')}")
        elif a.model:
            src = folder(a.model)
            outtype = a.outtype or "q8_0"
            out = Path(a.out or src.parent / f"{Path(a.model).name}-{outtype}.gguf")
            print(f"wrote {export_model(src, out, outtype)}")
        else:
            ap.error("name a model, or --lora ADAPTER --base MODEL")
    except (RuntimeError, FileNotFoundError) as e:
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    main()
