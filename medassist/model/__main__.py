"""MedAssist model command line.

    python -m medassist.model build         # the model the app uses: the base + the shipped fine-tuned adapter
    python -m medassist.model build [--base NAME|FOLDER|HUB_ID] [--precision int4|int8] [--config build.yaml]
    python -m medassist.model ask "A 45-year-old with crushing chest pain..." [--thinking-budget 512]
    python -m medassist.model ask "..." --backend torch --adapter runs/x/adapter   # a fine-tune before it is built
    python -m medassist.model list          # bundled bases and built models
    python -m medassist.model verify        # check built files against their recorded sha256
"""
from __future__ import annotations

import argparse
import dataclasses
import errno
import json
import sys

from medassist.model import bases, chat, endpoints
from medassist.model.build import BuildConfig, build, default_build_config, verify
from medassist.model.config import add_flags, resolve
from medassist.model.paths import models_dir
from medassist.model.registry import built_models
from medassist.model.defaults import QA


def _progress_bar():
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def progress(stage: str, frac: float, msg: str) -> None:
        bar = bars.get(stage) or bars.setdefault(stage, tqdm(total=100, desc=stage, unit="%", leave=True))
        bar.n = round(frac * 100)
        bar.set_postfix_str(msg[:60])
        bar.refresh()
        if frac >= 1.0:
            bar.close()

    return progress


def _json_progress(stage: str, frac: float, msg: str) -> None:
    print(json.dumps({"stage": stage, "fraction": round(frac, 4), "message": msg}), flush=True)


def cmd_build(args) -> None:
    cfg = resolve(BuildConfig, args.config, vars(args))
    if not args.config and args.base is None and args.adapter is None and args.name is None:
        # No model named: build the one the app uses (the base plus the shipped fine-tuned adapter), as its
        # first run does; `--base NAME` alone builds that base as it is.
        default = default_build_config()
        cfg = dataclasses.replace(cfg, adapter=default.adapter, name=default.name)
    path = build(cfg, progress=_json_progress if args.json_progress else _progress_bar())
    print(json.dumps({"built": str(path)}) if args.json_progress else f"Built: {path}")


def cmd_ask(args) -> None:
    from medassist.model.engine import load_engine

    engine = load_engine(args.model_path, backend=args.backend, precision=args.precision, threads=args.threads,
                         endpoint=endpoints.from_args(args), adapter=args.adapter)
    print(f"[{engine.info.name} · {engine.info.backend} {engine.info.precision}]", file=sys.stderr)
    phase = None
    last = None
    msgs = [{"role": "user", "content": args.question}]
    for c in engine.stream(msgs, system=chat.system_prompt(args.lang or chat.question_language(msgs)),
                           max_new_tokens=args.max_new_tokens,
                           thinking_budget=args.thinking_budget, temperature=args.temperature, top_p=args.top_p,
                           repetition_penalty=args.repetition_penalty):
        if c.text and c.phase != phase:
            phase = c.phase
            print("\n--- reasoning ---\n" if phase == "thinking" else "\n\n--- answer ---\n", end="")
        print(c.text, end="", flush=True)
        last = c
    print(f"\n\n[{last.generated_tokens} tokens, {last.tokens_per_s:.1f} tok/s, first token "
          f"{last.ttft_s or 0:.2f} s, finish: {last.finish_reason}]", file=sys.stderr)


def cmd_serving(args) -> None:
    from medassist.model.serving import write_serving

    out = write_serving(args.out, args.name)
    print(f"Wrote {out}/chat_template.jinja and {out}/serve-vllm.sh (run it on the GPU machine; docs/servers.md)")


def cmd_list(args) -> None:
    for b in bases.BUNDLED.values():
        try:
            bases.part_paths(b)
            state = "installed"
        except bases.ModelPackageError:
            state = "not installed"
        print(f"base   {b.name:24s} {state:14s} {b.description}")
    for name, variants in built_models().items():
        print(f"built  {name:24s} {', '.join(variants)}  in {models_dir() / name}")


def cmd_verify(args) -> None:
    bad_any = False
    for d in sorted(models_dir().glob("*/onnx-*")):
        bad = verify(d) if (d / "build.json").exists() else ["build.json"]
        bad_any |= bool(bad)
        print(f"{'OK ' if not bad else 'BAD'} {d}" + (f"  damaged: {', '.join(bad)} (run: python -m medassist.model build)"
                                                       if bad else ""))
    sys.exit(1 if bad_any else 0)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="medassist-model", description="Build and query MedAssist's model.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build the ONNX model (resumable)")
    b.add_argument("--config", help="YAML file with build settings")
    b.add_argument("--json-progress", action="store_true", help="progress as JSON lines (for the app)")
    add_flags(b, BuildConfig)
    a = sub.add_parser("ask", help="ask a question; streams reasoning, then the answer")
    a.add_argument("question")
    a.add_argument("--backend", default="onnx", choices=["onnx", "torch"])
    a.add_argument("--precision", default=None)
    a.add_argument("--model-path", default=None, help="a built model folder (default: the built default model)")
    a.add_argument("--adapter", default=None, help="torch: a PEFT adapter folder read beside its base (LoRA, (IA)3, "
                   "prefix tuning); the base is --model-path or the one its adapter_config.json names")
    a.add_argument("--thinking-budget", type=int, default=QA.thinking_budget)
    a.add_argument("--max-new-tokens", type=int, default=QA.max_new_tokens)
    a.add_argument("--temperature", type=float, default=QA.temperature)
    a.add_argument("--top-p", type=float, default=QA.top_p)
    a.add_argument("--repetition-penalty", type=float, default=QA.repetition_penalty, help="1 = off (default: %(default)s)")
    a.add_argument("--threads", type=int, default=None)
    a.add_argument("--lang", choices=["en", "zh"], default=None, help="system prompt language (default: the question's)")
    endpoints.add_flags(a)
    sv = sub.add_parser("serving", help="files to serve the fine-tuned model with vLLM (docs/servers.md)")
    sv.add_argument("--out", default="serve", help="folder for chat_template.jinja and serve-vllm.sh")
    sv.add_argument("--name", default=None, help="the built model (default: the fine-tuned default)")
    sub.add_parser("list", help="bundled bases and built models")
    sub.add_parser("verify", help="check built models against their checksums")
    args = ap.parse_args(argv)
    try:
        {"build": cmd_build, "ask": cmd_ask, "list": cmd_list, "verify": cmd_verify, "serving": cmd_serving}[args.cmd](args)
    except (bases.ModelPackageError, FileNotFoundError, ValueError, RuntimeError, MemoryError) as e:  # RemoteError too
        sys.exit(f"error: {e}")
    except OSError as e:
        if e.errno == errno.ENOSPC:
            sys.exit(f"error: the disk is full ({e.filename or models_dir()}). Nothing half-written was kept; "
                     "free some space (or set MEDASSIST_HOME to a larger drive) and run the build again.")
        raise
    except KeyboardInterrupt:
        sys.exit("interrupted")


if __name__ == "__main__":
    main()
