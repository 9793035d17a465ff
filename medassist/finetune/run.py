"""The whole fine-tune pipeline, each stage skipped when its output exists:

    medassist-finetune --config medassist/finetune/configs/default.yaml [--precision int4] [--eval-limit 300]

  1. train     -> <out>/adapter/           (finetune/train.py; resumes from <out>/checkpoint/)
  2. merge     -> $MEDASSIST_HOME/models/<base>-medassist/hf-merged/   (model/build.py + model/merge.py)
  3. onnx      -> $MEDASSIST_HOME/models/<base>-medassist/onnx-<precision>/
  4. evaluate  -> <out>/eval/*.jsonl + summary   (evals/evaluate.py, base vs fine-tuned, loglik)

Each stage also runs alone: medassist-train, medassist-model build --adapter, medassist-eval.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from medassist.finetune.methods import MERGEABLE
from medassist.finetune.train import TrainConfig, train
from medassist.model.config import add_flags, resolve
from medassist.model.paths import shared_data
from medassist.model.registry import tuned_name

SHARED_EVAL = shared_data() / "eval"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="Train -> merge -> ONNX -> evaluate.")
    ap.add_argument("--config", help="YAML with TrainConfig fields")
    ap.add_argument("--precision", default="int4")
    ap.add_argument("--eval-limit", type=int, default=300)
    ap.add_argument("--skip-eval", action="store_true")
    add_flags(ap, TrainConfig)
    args = ap.parse_args(argv)
    cfg = resolve(TrainConfig, args.config, vars(args))

    adapter = Path(cfg.out) / "adapter"
    if not (adapter / "adapter_config.json").exists():
        train(cfg)
    else:
        print(f"[train] done already: {adapter}")

    if cfg.method not in MERGEABLE:
        print(f"[onnx] skipped: {cfg.method} adapters cannot be merged into the base for ONNX; use the adapter with "
              f"PEFT or vLLM ({adapter})")
        return
    from medassist.model.build import BuildConfig, build

    onnx = build(BuildConfig(base=cfg.base, adapter=str(adapter), name=tuned_name(cfg.base),
                             precision=args.precision))
    print(f"[onnx] {onnx}")
    if args.skip_eval:
        return
    from medassist.evals.evaluate import evaluate, load_items
    from medassist.model.engine.onnx_engine import OnnxEngine

    results = {}
    out = Path(cfg.out) / "eval"
    out.mkdir(parents=True, exist_ok=True)
    base_onnx = build(BuildConfig(base=cfg.base, precision=args.precision))
    for name in ("medmcqa_dev", "pubmedqa_test", "mmlu_medical"):
        data = SHARED_EVAL / f"{name}.jsonl"
        if not data.exists():
            print(f"[eval] skipped {name}: {data} not found")
            continue
        items = load_items(data, args.eval_limit)
        for label, path in (("base", base_onnx), ("fine-tuned", onnx)):
            s = evaluate(OnnxEngine(path), items, "loglik", out=out / f"{name}-{label}.jsonl")
            results[f"{name}/{label}"] = s
            print(f"[eval] {name} {label}: {s['accuracy']:.1%} (95% CI {s['ci95'][0]:.1%}–{s['ci95'][1]:.1%})")
    (out / "summary.json").write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
