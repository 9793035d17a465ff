"""The package's folders are its layers, and each imports only from the layers below it.

    medassist.model   <-  medassist.evals  <-  medassist.finetune
    medassist.model   <-  medassist.papers, medassist.store, medassist.evals  <-  medassist.app

Read from the source (every import, also those inside functions), so an upward import fails here
even on a code path no other test runs. The UI's own imports are checked at run time too: loading
the page's modules must not load torch or onnxruntime (the engine does, in the model layer).
"""
import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "medassist"
# layer -> the medassist layers it may import (itself included)
ALLOWED = {
    "model": {"model"},
    "evals": {"model", "evals"},
    "finetune": {"model", "evals", "finetune"},
    "papers": {"model", "papers"},
    "store": {"model", "store"},
    "app": {"model", "evals", "papers", "store", "app"},
}
NEVER = {  # third-party packages a layer must not import
    "papers": {"gradio"},
    "store": {"gradio"},
    "model": {"gradio"},
}


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def violations() -> list[str]:
    bad = []
    for layer, allowed in ALLOWED.items():
        for f in sorted((PKG / layer).rglob("*.py")):
            for mod in imports(f):
                parts = mod.split(".")
                if parts[0] == "medassist" and len(parts) > 1 and parts[1] not in allowed:
                    bad.append(f"{f.relative_to(PKG.parent)} imports {mod}")
                if parts[0] in NEVER.get(layer, ()):
                    bad.append(f"{f.relative_to(PKG.parent)} imports {mod}")
                if parts[0] in ("app", "model", "finetune"):  # the old top-level names are gone
                    bad.append(f"{f.relative_to(PKG.parent)} imports the old package {mod}")
    return bad


def test_every_layer_imports_only_downward():
    assert sorted(p.name for p in PKG.iterdir() if p.is_dir() and p.name != "__pycache__") == sorted(ALLOWED)
    assert violations() == []


def test_the_check_catches_an_upward_import(tmp_path, monkeypatch):
    fake = tmp_path / "medassist"
    for layer in ALLOWED:
        (fake / layer).mkdir(parents=True)
    (fake / "model" / "x.py").write_text("def f():\n    from medassist.papers import summarize\n")
    (fake / "papers" / "y.py").write_text("import gradio as gr\n")
    monkeypatch.setattr(sys.modules[__name__], "PKG", fake)
    assert violations() == ["medassist/model/x.py imports medassist.papers", "medassist/papers/y.py imports gradio"]


def test_ui_never_imports_torch_or_onnxruntime():
    code = ("import sys; import medassist.app.ui, medassist.app.tabs.qa, medassist.app.service, medassist.app.__main__; "
            "bad = [m for m in ('torch', 'onnxruntime', 'onnxruntime_genai', 'transformers') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
