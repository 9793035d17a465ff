"""Config plumbing shared by every stage: dataclass defaults -> optional YAML -> CLI flags.

    parser = argparse.ArgumentParser(); add_flags(parser, BuildConfig)
    args = parser.parse_args(); cfg = resolve(BuildConfig, args.config, vars(args))

Each stage saves its resolved config (asdict) next to its output.
"""
from __future__ import annotations

import argparse
import dataclasses
import typing
from pathlib import Path


def _base_type(tp):
    if typing.get_origin(tp) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0] if args else str
    return tp


def add_flags(parser: argparse.ArgumentParser, cls) -> None:
    """One --flag per dataclass field (default None, so unset flags don't override YAML)."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.metadata.get("flag") is False:  # a secret: from the environment or a file, never argv
            continue
        tp = _base_type(hints[f.name])
        flag = "--" + f.name.replace("_", "-")
        if tp is bool:
            parser.add_argument(flag, dest=f.name, default=None, action=argparse.BooleanOptionalAction,
                                help=f"(default {f.default})")
        elif tp in (int, float, str):
            parser.add_argument(flag, dest=f.name, type=tp, default=None,
                                help=f"(default {f.default if f.default is not dataclasses.MISSING else ''})")


def resolve(cls, yaml_path: str | Path | None = None, overrides: dict | None = None):
    values: dict = {}
    if yaml_path:
        import yaml

        loaded = yaml.safe_load(Path(yaml_path).read_text()) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{yaml_path}: expected a mapping of settings")
        values.update(loaded)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - names
    if unknown:
        raise ValueError(f"Unknown settings in {yaml_path}: {', '.join(sorted(unknown))}")
    for k, v in (overrides or {}).items():
        if k in names and v is not None:
            values[k] = v
    return cls(**values)
