"""medassist-summarize: a cited structured summary of one paper, or of every paper in a folder.

    medassist-summarize paper.pdf --json out.json [--md out.md] [--lang zh] [--model-path FOLDER]
    medassist-summarize papers/ --out summaries/ [--lang zh]      # one .md + .json per paper, and index.md

A paper is a .pdf, .txt, .md or .docx file (papers/textread.py). A folder is summarised paper by paper with a
progress line each; a paper whose .json is already in --out is skipped, so a stopped run goes on where it
stopped; a paper that cannot be read is listed in the index with the reason, and the run goes on.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from medassist.model import endpoints
from medassist.model.engine.remote import RemoteError
from medassist.papers.passages import PaperIndex
from medassist.papers.pdfread import PdfError
from medassist.papers.summarize import SummaryConfig, _field_name, summarize, to_markdown
from medassist.papers.textread import PAPER_TYPES, read_paper


def run_one(path: Path, engine, embedder, cfg: SummaryConfig, model: str, echo: bool = True):
    """(summary, index) of one paper; the model's words stream to stderr when echo."""
    paper = read_paper(path)
    index = PaperIndex.build(paper, embedder)
    summary = None
    for ev in summarize(index, engine, cfg, source=path.name, model=model):
        if echo and ev["type"] == "stage" and ev["stage"] != "done":
            print(f"\n[{ev['fraction']:.0%}] {_field_name(ev['stage'], cfg.lang)}: ", end="", file=sys.stderr, flush=True)
        elif echo and ev["type"] == "token":
            print(ev["text"], end="", file=sys.stderr, flush=True)
        elif ev["type"] == "done":
            summary = ev["summary"]
    return summary, index


def write(summary, index, json_path: Path | None, md_path: Path | None) -> str:
    md = to_markdown(summary)
    if json_path:
        tmp = json_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(summary.to_json(index), ensure_ascii=False, indent=2), encoding="utf-8")
        tmp.replace(json_path)  # written whole or not at all: a resumed run trusts what it finds
    if md_path:
        md_path.write_text(md, encoding="utf-8")
    return md


def run_folder(folder: Path, out: Path, engine, embedder, cfg: SummaryConfig, model: str) -> int:
    """Every paper in the folder; returns how many could not be summarised."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in PAPER_TYPES)
    if not files:
        sys.exit(f"error: no .pdf, .txt, .md or .docx files in {folder}")
    out.mkdir(parents=True, exist_ok=True)
    rows, failed, started = [], 0, time.perf_counter()
    for i, path in enumerate(files, 1):
        json_path, md_path = out / f"{path.stem}.json", out / f"{path.stem}.md"
        head = f"[{i}/{len(files)}] {path.name}"
        if json_path.exists():
            data = json.loads(json_path.read_text(encoding="utf-8"))
            rows.append((path.name, data.get("title", ""), md_path.name, "done before"))
            print(f"{head}: done before, skipped", file=sys.stderr, flush=True)
            continue
        t0 = time.perf_counter()
        print(f"{head} …", end="", file=sys.stderr, flush=True)
        try:
            summary, index = run_one(path, engine, embedder, cfg, model, echo=False)
            write(summary, index, json_path, md_path)
            rows.append((path.name, summary.title, md_path.name, f"{time.perf_counter() - t0:.0f} s"))
            print(f" {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
        except (PdfError, OSError) as e:
            failed += 1
            rows.append((path.name, "", "", f"not summarised: {e}"))
            print(f" not summarised: {e}", file=sys.stderr, flush=True)
        done = sum(1 for r in rows if r[2])
        elapsed = time.perf_counter() - started
        print(f"    {done}/{len(files)} done, {elapsed / 60:.1f} min so far", file=sys.stderr, flush=True)
    lines = [f"# Summaries of {folder.name}", "", "| paper | title | summary | status |", "| --- | --- | --- | --- |"]
    lines += [f"| {n} | {t.replace('|', '/')} | {f'[{m}]({m})' if m else ''} | {s} |" for n, t, m, s in rows]
    (out / "index.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {out / 'index.md'}", file=sys.stderr)
    return failed


def main(argv=None) -> None:
    from medassist.model.config import add_flags, resolve

    ap = argparse.ArgumentParser(description="Summarise a paper (.pdf, .txt, .md, .docx) or a folder of them.")
    ap.add_argument("paper", help="a paper's file, or a folder of papers")
    ap.add_argument("--json", default=None, help="one paper: write the summary as JSON here")
    ap.add_argument("--md", default=None, help="one paper: write the summary as Markdown here")
    ap.add_argument("--out", default=None, help="a folder: where the summaries and index.md go (default: "
                                                "<folder>/summaries)")
    ap.add_argument("--model-path", default=None, help="model folder (default: the built default model)")
    ap.add_argument("--backend", default="onnx", choices=["onnx", "torch"])
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--config", default=None, help="YAML file with summary settings")
    endpoints.add_flags(ap)
    add_flags(ap, SummaryConfig)
    args = ap.parse_args(argv)
    try:
        cfg = resolve(SummaryConfig, args.config, vars(args))
    except (OSError, ValueError) as e:
        sys.exit(f"error: {e}")
    from medassist.model.embed import load_embedder
    from medassist.model.engine import load_engine

    source = Path(args.paper)
    if not source.exists():
        sys.exit(f"error: {source} does not exist")
    try:
        if source.is_file():
            read_paper(source)  # a file that cannot be read is said before the model loads
        engine = load_engine(args.model_path, backend=args.backend, threads=args.threads,
                             endpoint=endpoints.from_args(args))
        embedder = load_embedder()
    except (PdfError, FileNotFoundError, OSError, RemoteError) as e:
        sys.exit(f"error: {e}")
    i = engine.info
    model = f"{i.name} · remote · {i.extra['host']}" if i.backend == "remote" else f"{i.name} · {i.precision}"
    try:
        if source.is_dir():
            failed = run_folder(source, Path(args.out) if args.out else source / "summaries", engine, embedder, cfg,
                                model)
            sys.exit(1 if failed else 0)
        summary, index = run_one(source, engine, embedder, cfg, model)
    except (PdfError, RemoteError) as e:
        sys.exit(f"\nerror: {e}")
    print("\n", file=sys.stderr)
    print(write(summary, index, Path(args.json) if args.json else None, Path(args.md) if args.md else None))
    print(f"{summary.stats['seconds']} s ({summary.stats['seconds_per_page']} s/page), "
          f"{len(summary.dropped)} sentence(s) removed by the number and support checks", file=sys.stderr)


if __name__ == "__main__":
    main()
