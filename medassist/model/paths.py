"""Where MedAssist keeps things, and how it writes built artifacts safely.

Built models: MEDASSIST_HOME, default ~/.cache/medassist. The user's data (history, audit log, library):
MEDASSIST_DATA, default ~/.local/share/medassist (or the platform's equivalent). Shipped files: assets/
in the repo. Shared data for benchmarks and tests: ../shared/data or MEDASSIST_SHARED.
Every stage writes into a temporary sibling and renames it into place, so a
killed build never leaves a half-written artifact behind: a stage's output
either exists whole or not at all.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from contextlib import contextmanager
from pathlib import Path


REPO = Path(__file__).resolve().parents[2]  # the checkout (pip install -e . keeps it in place)
ASSETS = REPO / "assets"


def home() -> Path:
    return Path(os.environ.get("MEDASSIST_HOME", Path.home() / ".cache" / "medassist")).expanduser()


def models_dir() -> Path:
    return home() / "models"


def data_dir() -> Path:
    """The user's data: history, audit log, reference library. Never served to the browser."""
    if os.environ.get("MEDASSIST_DATA"):
        return Path(os.environ["MEDASSIST_DATA"]).expanduser()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "MedAssist"
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", Path.home())) / "MedAssist"
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "medassist"


def shared_data() -> Path:
    """The shared data beside the repo (../shared/data), or MEDASSIST_SHARED; callers skip where it is absent."""
    default = REPO.parent / "shared" / "data"
    return Path(os.environ.get("MEDASSIST_SHARED", default)).expanduser()


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


@contextmanager
def atomic_dir(final: Path):
    """Yield a temp folder; on success it replaces `final` in one rename."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    for stale in final.parent.glob(f".{final.name}.tmp-*"):  # left by a process killed mid-write
        shutil.rmtree(stale, ignore_errors=True)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)


def write_json_atomic(path: Path, data: dict) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    os.replace(tmp, path)


def clean_stale_temps(folder: Path) -> None:
    """Remove temp outputs left by a build that was killed mid-way."""
    if folder.exists():
        for p in folder.glob(".*.tmp-*"):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class ResourceError(RuntimeError):
    """Not enough disk or memory for a stage; the message says what is missing."""


def check_resources(where: Path, *, disk_gb: float, ram_gb: float, stage: str) -> None:
    import psutil

    where = Path(where)
    where.mkdir(parents=True, exist_ok=True)
    free_disk = shutil.disk_usage(where).free / 1e9
    if free_disk < disk_gb:
        raise ResourceError(
            f"{stage}: needs {disk_gb:.1f} GB free disk in {where}, only {free_disk:.1f} GB free. "
            "Free some space or set MEDASSIST_HOME to a larger drive."
        )
    avail = psutil.virtual_memory().available / 1e9
    if avail < ram_gb:
        raise ResourceError(
            f"{stage}: needs about {ram_gb:.1f} GB of free memory, only {avail:.1f} GB available. "
            "Close other programs, or build the smaller model (--base qwen2.5-coder-0.5b)."
        )
