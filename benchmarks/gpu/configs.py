"""The GPU checks' training configs: the shipped recipe (medassist/finetune/configs/default.yaml) with only the
base and the data changed, and its GPU-shaped variants. Written to a folder for benchmarks/gpu/run.sh.

    python -m benchmarks.gpu.configs BASE DATA OUT_DIR
"""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
VARIANTS = {
    "shipped": {},  # batch 1, chunked loss, gradient checkpointing: the CPU recipe as it is
    "b8": {"batch_size": 8, "chunked_loss": False},  # the step's 8 examples in one padded pass
    "qlora": {"batch_size": 8, "chunked_loss": False, "load_in_4bit": True},  # the same on a 4-bit NF4 base
}


def main(argv=None) -> None:
    base, data, out = (sys.argv[1:] if argv is None else argv)[:3]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    shipped = yaml.safe_load((ROOT / "medassist" / "finetune" / "configs" / "default.yaml").read_text())
    shipped |= {"base": str(Path(base).resolve()), "data": str(Path(data).resolve())}
    for name, change in VARIANTS.items():
        (out / f"{name}.yaml").write_text(yaml.safe_dump(shipped | change))
    print("configs:", ", ".join(sorted(p.name for p in out.glob("*.yaml"))))


if __name__ == "__main__":
    main()
