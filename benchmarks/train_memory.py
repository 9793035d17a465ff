"""Training memory: the model's own loss vs the chunked loss vs glibc's mmap threshold, side by side.

    python -m benchmarks.train_memory                      # default config (medassist/finetune/configs/default.yaml)
    python -m benchmarks.train_memory --examples 2 --config my.yaml --only chunked-loss chunked-mmap-1mib

Each variant runs in its own fresh process (peak RSS is per process): the base in the training
dtype with the config's LoRA layers and gradient checkpointing, then forward + backward on the
--examples longest training examples (cut at max_seq_len, as training cuts them), freeing heap after
each as the trainer does; then a validation pass and one more training example. The last variant
also serves every allocation of 1 MiB or more from its own mapping (the trainer's default,
`mmap_threshold_mib`), which the others leave at glibc's default. This is the working
set of one example at full length, measured in minutes; a full run sits above it, by how much its
heap fragments over many lengths (the v0.2 recipe at glibc's default threshold: 9.0 GiB over 13 steps,
12.6 GiB at the end, against 5.0 GiB here; with the 1 MiB threshold a full epoch stayed at 5.32 GiB,
4.2 GiB here).
Prints a table and writes benchmarks/results/train_memory.json.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the repo: results go to benchmarks/results/


# name -> (chunked loss, mmap threshold in MiB; 0 = glibc's default)
VARIANTS = {"model-loss": (False, 0), "chunked-loss": (True, 0), "chunked-mmap-1mib": (True, 1)}


def child(config: str | None, chunked: bool, mmap_mib: int, n_examples: int) -> dict:
    """Runs in the variant's own process; returns its measurements."""
    import torch

    from medassist.finetune import device as D
    from medassist.finetune import loss as L
    from medassist.finetune import train as T
    from medassist.finetune.methods import load_model
    from medassist.model.config import resolve

    cfg = resolve(T.TrainConfig, config)
    D.limit_heap_growth(mmap_mib)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    base = T.resolve_base(cfg.base)
    _, _, train_set, val_set, _ = T.encoded_splits(cfg, base, log=lambda *a: None)
    encoded = sorted(train_set, key=lambda e: len(e["input_ids"]), reverse=True)[:n_examples]
    model = load_model(cfg, base, D.pick_dtype(cfg.dtype, "cpu"))
    model.train()
    after_load = D.peak_rss_gib()

    def train_on(batch):
        for ex in batch:
            loss, _ = L.example_loss(model, ex, chunked)
            loss.backward()
            losses.append(round(loss.item(), 4))
            D.release_free_memory()

    t0, losses = time.time(), []
    train_on(encoded)
    seconds = (time.time() - t0) / len(encoded)
    after_train = D.peak_rss_gib()
    val_loss = T.evaluate_loss(model, val_set, chunked and L.plain_head(model)) if val_set else None
    val_loss = val_loss and val_loss[0] / max(val_loss[1], 1)
    after_val = D.peak_rss_gib()
    train_on(encoded[:1])
    return {"chunked": chunked, "mmap_threshold_mib": mmap_mib, "examples": len(encoded), "tokens": [len(e["input_ids"]) for e in encoded],
            "losses": losses, "val_examples": len(val_set), "val_loss": val_loss and round(val_loss, 4),
            "peak_rss_after_load_gib": round(after_load, 2), "peak_rss_after_train_gib": round(after_train, 2),
            "peak_rss_after_val_gib": round(after_val, 2), "peak_rss_gib": round(D.peak_rss_gib(), 2),
            "seconds_per_example": round(seconds, 1)}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "medassist" / "finetune" / "configs" / "default.yaml"))
    ap.add_argument("--examples", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "train_memory.json"))
    ap.add_argument("--only", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--child", choices=list(VARIANTS), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.config, *VARIANTS[args.child], args.examples)))
        return
    rows = {}
    for name in args.only:
        print(f"== {name}", flush=True)
        proc = subprocess.run([sys.executable, "-m", "benchmarks.train_memory", "--child", name, "--config", args.config,
                               "--examples", str(args.examples)], cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"error: {name} failed:\n" + "\n".join(proc.stderr.strip().splitlines()[-10:]))
        rows[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    ref = next(iter(rows.values()))  # ratios against the first variant measured
    print(f"\n{ref['examples']} longest training examples ({ref['tokens']} tokens)\n")
    print(f"| variant | peak RSS (GiB): loaded | + longest examples | + validation pass | + one more example "
          f"| vs {next(iter(rows))} | s/example | losses | validation loss |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['peak_rss_after_load_gib']} | {r['peak_rss_after_train_gib']} | {r['peak_rss_after_val_gib']} | "
              f"{r['peak_rss_gib']} | {r['peak_rss_gib'] / ref['peak_rss_gib']:.2f}x | {r['seconds_per_example']} | "
              f"{r['losses']} | {r['val_loss']} |")
    Path(args.out).write_text(json.dumps(rows, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
