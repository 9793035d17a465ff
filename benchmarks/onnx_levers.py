"""What each ONNX build option buys: build variants of the default model and measure them side by side.

    python -m benchmarks.onnx_levers                      # all variants below of the app's model (~2 min each)
    python -m benchmarks.onnx_levers --only int4-b32 int8-b32 --eval-items 200
    python -m benchmarks.onnx_levers --only int8-b256-all-logits int4-b128 int4-hqq-b128 --eval-items 200 \
        --out onnx_levers_int4.json                       # INT4 without double rounding (#21)
    python -m benchmarks.onnx_levers --only int8-b256-all-logits int8-b256-acc1 int4-b128-acc1 --eval-items 200 \
        --fp32-reference --out onnx_levers_acc.json       # int8 vs fp32 activations; bf16 vs fp32 itself

For each variant: build it (skipped when already built), then in one run measure every variant
plus PyTorch bf16 and llama.cpp with benchmarks/generation.py (speed, memory, greedy agreement
with PyTorch), and optionally option-letter accuracy and agreement of picks with PyTorch on the
first N MedMCQA dev items. Writes benchmarks/results/onnx_levers.json and prints a table.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path


from medassist.model.paths import REPO as ROOT
from medassist.model.build import BuildConfig, stage_onnx
from medassist.model.registry import default_name, resolve_model
from medassist.model.paths import atomic_dir, models_dir, shared_data, write_json_atomic

VARIANTS: dict[str, dict] = {
    "int4-builder-defaults": dict(precision="int4", block_size=32, quantize_embeddings=False, prune_lm_head=False),
    "int4-b32": dict(precision="int4", block_size=32),  # + int4 embeddings, last-token logits only
    "int4-b128": dict(precision="int4", block_size=128),
    "int4-b32-asym": dict(precision="int4", block_size=32, extra_options={"is_symmetric": "false"}),
    "int4-b32-head8": dict(precision="int4", block_size=32, extra_options={"matmul_mixed_precision": "last_matmul:int8"}),
    "int4-b128-mixed": dict(precision="int4", block_size=128,
                            extra_options={"matmul_mixed_precision": "last_matmul:int8,mixed_layers:int8"}),
    # k_quant: llama.cpp's error-minimising search for each block's scale and minimum (Q4_K's method), from
    # bf16, instead of round-to-nearest: one rounding, chosen to minimise the error (#21).
    "int4-kquant-b32": dict(precision="int4", block_size=32, extra_options={"algo_config": "k_quant"}),
    "int4-kquant-b128": dict(precision="int4", block_size=128, extra_options={"algo_config": "k_quant"}),
    "int4-kquant-mixed": dict(precision="int4", block_size=32,
                              extra_options={"algo_config": "k_quant",
                                             "matmul_mixed_precision": "last_matmul:int8,mixed_layers:int8"}),
    # HQQ (half-quadratic: each block's scale and zero point fitted to minimise the error, float zero points), one
    # rounding from the fine-tuned bf16 weights: onnxruntime's quantizer on the builder's fp32 export (#21).
    # Measured: picks = PyTorch 71% vs 67% round-to-nearest (101 items), 4.2x slower per item (no fast CPU kernel
    # for float zero points); a 13-minute, 16.6 GiB build. Not taken (docs/benchmarks.md).
    "int4-hqq-b128": dict(precision="fp32", hqq_block=128),
    "int8-b32": dict(precision="int8", block_size=32),
    "int8-b128": dict(precision="int8", block_size=128),
    "int8-b256": dict(precision="int8", block_size=256),
    # Logits for every position (for speculative decoding's verification); otherwise the default build.
    "int8-b256-all-logits": dict(precision="int8", block_size=256, prune_lm_head=False),
    # The default build with fp32 activations (accuracy level 1) instead of int8 (4): are the INT8 build's lost
    # picks the weights' rounding or the activations'? (#21: "≥ 95% of PyTorch's picks")
    "int8-b256-acc1": dict(precision="int8", block_size=256, prune_lm_head=False, accuracy_level=1),
    "int4-b128-acc1": dict(precision="int4", block_size=128, prune_lm_head=False, accuracy_level=1),
}
SHARED_EVAL = shared_data() / "eval" / "medmcqa_dev.jsonl"


def variant_dir(base: str, name: str) -> Path:
    return models_dir() / f"{base}-levers" / name


def build_variant(base: str, name: str) -> Path:
    hf = resolve_model(base, backend="torch")
    options = dict(VARIANTS[name])
    hqq_block = options.pop("hqq_block", None)
    cfg = BuildConfig(base=base, name=f"{base}-levers", **options)
    out = stage_onnx(cfg, hf, variant_dir(base, name), progress=lambda s, f, m: print(f"  [{name}] {m}", flush=True))
    return hqq(out, variant_dir(base, name) / "onnx-int4", hqq_block) if hqq_block else out


def hqq(fp32: Path, dest: Path, block: int) -> Path:
    """fp32 export -> MatMulNBits int4 by onnxruntime's HQQ quantizer (embeddings stay fp32: HQQ's float zero
    points have no Gather kernel), with accuracy_level 4 (int8 activations) as the builder sets it."""
    import logging
    import resource
    import shutil
    import time

    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import HQQWeightOnlyQuantConfig, MatMulNBitsQuantizer

    if (dest / "build.json").exists():
        return dest
    logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer").setLevel(logging.WARNING)  # a line per node
    t = time.time()
    q = MatMulNBitsQuantizer(onnx.load(str(fp32 / "model.onnx")),
                             algo_config=HQQWeightOnlyQuantConfig(block_size=block))
    q.process()
    for node in q.model.model.graph.node:
        if node.op_type == "MatMulNBits":
            node.attribute.extend([onnx.helper.make_attribute("accuracy_level", 4)])
    with atomic_dir(dest) as tmp:  # a run stopped midway leaves no half-written model behind
        q.model.save_model_to_file(str(tmp / "model.onnx"), use_external_data_format=True)
        for f in fp32.iterdir():
            if f.is_file() and f.name not in ("model.onnx", "model.onnx.data", "build.json"):
                shutil.copy(f, tmp / f.name)
        files = {p.name: {"bytes": p.stat().st_size} for p in sorted(tmp.iterdir())}
        write_json_atomic(tmp / "build.json", {
            "stage": "onnx", "precision": "int4", "method": f"hqq, block {block}", "source": str(fp32),
            "seconds": round(time.time() - t, 1),
            "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2), "files": files})
    return dest


def picks(path_or_kind: str, items: int, out: Path, precision: str | None = None) -> dict:
    kind, path = path_or_kind.split(":", 1)
    cmd = [sys.executable, "-m", "medassist.evals.evaluate", "--data", str(SHARED_EVAL), "--engine", kind,
           "--model-path", path, "--limit", str(items), "--threads", "2", "--out", str(out)]
    cmd += ["--precision", precision] if precision else []
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    summary = json.loads(out.with_suffix(".summary.json").read_text())
    preds = [json.loads(line)["pred"] for line in out.read_text().splitlines()]
    return {"accuracy": summary["accuracy"], "ci95": summary["ci95"], "preds": preds,
            "seconds_per_item": summary["seconds_per_item"]}


def agree(preds: list, ref: dict) -> float:
    """The share of items where these picks equal the reference run's."""
    return sum(a == b for a, b in zip(preds, ref["preds"])) / len(ref["preds"])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", default=None, help="a built model's name (default: the one the app uses)")
    ap.add_argument("--only", nargs="*", default=list(VARIANTS))
    ap.add_argument("--eval-items", type=int, default=0, help="MedMCQA dev items for accuracy (0 = skip)")
    ap.add_argument("--eval-only", nargs="*", default=None, help="variants to evaluate (default: all measured)")
    ap.add_argument("--skip-speed", action="store_true", help="reuse the last speed results")
    ap.add_argument("--fp32-reference", action="store_true", help="also score PyTorch fp32: how often bf16 itself "
                    "keeps fp32's pick (the ceiling any quantized build's agreement is read against)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default="onnx_levers.json", help="result file in benchmarks/results/ (speed beside it)")
    args = ap.parse_args(argv)
    args.base = args.base or default_name()
    built = {name: build_variant(args.base, name) for name in args.only}
    res_dir = ROOT / "benchmarks" / "results"
    out = res_dir / args.out
    speed_out = out.with_name(out.stem + "_speed.json")
    cmd = [sys.executable, "-m", "benchmarks.generation", "--model", args.base, "--backends", "torch-bf16",
           "llamacpp-q4km", "--repeats", str(args.repeats), "--no-app", "--out", str(speed_out)]
    for name, path in built.items():
        cmd += ["--variant", f"{name}={path}"]
    if not args.skip_speed:
        subprocess.run(cmd, check=True, cwd=ROOT)
    speed = json.loads(speed_out.read_text())
    result = {"base": args.base, "variants": {n: VARIANTS[n] for n in built}, "speed": speed["results"]}
    if args.eval_items and SHARED_EVAL.exists():
        ref = picks(f"torch:{resolve_model(args.base, backend='torch')}", args.eval_items,
                    res_dir / f"picks-{args.base}-torch.jsonl")
        result["accuracy"] = {"torch-bf16": {k: v for k, v in ref.items() if k != "preds"}}
        fp32 = None
        if args.fp32_reference:
            fp32 = picks(f"torch:{resolve_model(args.base, backend='torch')}", args.eval_items,
                         res_dir / f"picks-{args.base}-torch-fp32.jsonl", precision="float32")
            result["accuracy"]["torch-fp32"] = {k: v for k, v in fp32.items() if k != "preds"}
            result["accuracy"]["torch-bf16"]["agree_with_torch_fp32"] = agree(ref["preds"], fp32)
            print(f"  torch-bf16: picks equal to PyTorch fp32 {agree(ref['preds'], fp32):.0%}", flush=True)
        for name, path in built.items():
            if args.eval_only is not None and name not in args.eval_only:
                continue
            r = picks(f"onnx:{path}", args.eval_items, res_dir / f"picks-{args.base}-{name}.jsonl")
            preds = r.pop("preds")
            r["agree_with_torch"] = agree(preds, ref)
            if fp32:
                r["agree_with_torch_fp32"] = agree(preds, fp32)
            result["accuracy"][name] = r
            print(f"  {name}: accuracy {r['accuracy']:.1%}, picks equal to PyTorch {r['agree_with_torch']:.0%}"
                  + (f" (fp32: {r['agree_with_torch_fp32']:.0%})" if fp32 else ""), flush=True)
    for name, path in built.items():
        b = json.loads((Path(path) / "build.json").read_text())
        result.setdefault("build", {})[name] = {"seconds": b["seconds"], "peak_rss_gib": b["peak_rss_gib"],
                                                "bytes": sum(f["bytes"] for f in b["files"].values())}
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
