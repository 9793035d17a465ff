"""Training throughput and the PEFT methods side by side: tokens/s, time per step and per epoch, peak memory,
validation loss and adapter size, on the shared 195-record sample, on whatever device this machine has.

    python -m benchmarks.train_throughput                          # the shipped recipe, 2 steps per method, here
    python -m benchmarks.train_throughput --steps 0 --methods lora  # a whole epoch (a GPU machine)

Each method trains in its own process (peak memory is per process) from the shipped config
(medassist/finetune/configs/default.yaml) with `method` switched and everything else equal; validation loss is
read after the last step on the same held-out records. On 2 CPU cores an epoch takes hours, so the default is a
few steps and the epoch time is projected from them (steps per epoch x seconds per step, marked "projected").
The device is recorded with its name (a GPU's card). Skips cleanly when the shared data is absent. Prints a
table, writes benchmarks/results/train_throughput.json (or --out).
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "medassist" / "finetune" / "configs" / "default.yaml"


def child(config: str, method: str, steps: int, out: str, val_fraction: float) -> dict:
    """Runs in the method's own process."""
    import dataclasses

    import torch

    from medassist.finetune.train import TrainConfig, train
    from medassist.model.config import resolve

    cfg = resolve(TrainConfig, config)
    cfg = dataclasses.replace(cfg, method=method, out=out, max_steps=steps, eval_every=steps or 10_000,
                              save_every=10_000, init_adapter="", val_fraction=val_fraction or cfg.val_fraction)
    adapter = train(cfg, log=lambda *a: None)
    m = json.loads((adapter / "metrics.json").read_text())
    hist = m["history"]
    seconds = m["tokens"] / max(m["tokens_per_s"], 1e-9)
    device = m["device"]
    card = torch.cuda.get_device_name(0) if device == "cuda" else platform.processor() or platform.machine()
    size = sum(p.stat().st_size for p in adapter.glob("*.safetensors"))
    return {"method": method, "device": device, "card": card, "processes": m["processes"], "steps": m["steps"],
            "steps_per_epoch": max(1, m["train_examples"] // cfg.grad_accum), "tokens_per_s": round(m["tokens_per_s"], 1),
            "s_per_step": round(seconds / max(m["steps"], 1), 1), "whole_epoch": steps == 0,
            "val_loss": m["final_val_loss"], "first_loss": hist[0]["loss"] if hist else None,
            "peak_rss_gib": m["peak_rss_gib"], "peak_gpu_gib": max((h.get("peak_gpu_gib", 0) for h in hist), default=None),
            "adapter_bytes": size}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(CONFIG))
    ap.add_argument("--methods", default="lora,ia3,prefix")
    ap.add_argument("--steps", type=int, default=2, help="optimizer steps per method (0: the config's epochs)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "train_throughput.json"))
    ap.add_argument("--val-fraction", type=float, default=0.03, help="validation share (0: the config's); a few "
                    "steps need only a few validation records (the shipped split's 26 take minutes on a CPU)")
    ap.add_argument("--keep", default="", help="keep each method's run (adapter, metrics, loss.png) in KEEP/<method> "
                    "instead of a temporary folder, e.g. to score it on an exam afterwards")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        print(json.dumps(child(a.config, a.child[0], int(a.child[1]), a.child[2], a.val_fraction)))
        return
    from medassist.finetune.train import TrainConfig
    from medassist.model.config import resolve

    data = Path(resolve(TrainConfig, a.config).data)
    if not (data if data.is_absolute() else ROOT / data).exists():
        print(f"skipped: the training data {data} is not here (../shared/data)")
        return
    rows = []
    for method in a.methods.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            run_dir = Path(a.keep).resolve() / method if a.keep else Path(tmp) / "run"
            done = subprocess.run([sys.executable, "-m", "benchmarks.train_throughput", "--config", a.config,
                                   "--val-fraction", str(a.val_fraction), "--child", method, str(a.steps),
                                   str(run_dir)],
                                  capture_output=True, text=True, cwd=ROOT)
        if done.returncode:
            print(f"{method}: failed\n{done.stderr[-1500:]}")
            continue
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"{method}: {rows[-1]}", flush=True)
        save(a, rows)  # after each method: a run stopped part-way keeps what it measured
    if not rows:
        return
    print(f"\n{rows[0]['device']} ({rows[0]['card']}), {rows[0]['processes']} process(es); "
          f"{'whole epoch' if rows[0]['whole_epoch'] else f'{a.steps} steps, epoch time projected'}\n")
    print("| method | tokens/s | s / step | epoch (h) | validation loss | peak RAM GiB | peak GPU GiB | adapter MB |\n"
          "| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        epoch_h = r["s_per_step"] * r["steps_per_epoch"] / 3600
        print(f"| {r['method']} | {r['tokens_per_s']} | {r['s_per_step']} | {epoch_h:.2f}"
              f"{'' if r['whole_epoch'] else ' (projected)'} | {r['val_loss']} | {r['peak_rss_gib']} | "
              f"{r['peak_gpu_gib'] or '–'} | {r['adapter_bytes'] / 2**20:.3g} |")
    print(f"\nwrote {a.out}")


def save(a, rows: list[dict]) -> None:
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps({"config": a.config, "steps": a.steps, "val_fraction": a.val_fraction,
                                       "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
