"""finetune.levers on a tiny ONNX model: every lever runs, cells resume, exemplars are never evaluated."""
import json
import shutil

from tests.test_evaluate import write_items


def test_levers_table_on_tiny_model(tmp_path, monkeypatch, tiny_onnx_fp32, capsys):
    from medassist.evals import levers
    from medassist.evals.eval_table import FT
    from medassist.model.paths import models_dir

    shutil.copytree(tiny_onnx_fp32, models_dir() / FT / "onnx-int8")  # where the fine-tuned INT8 model lives
    (tmp_path / "data" / "eval").mkdir(parents=True)
    write_items(tmp_path / "data" / "eval" / "medmcqa_dev.jsonl", n=8)
    monkeypatch.setenv("MEDASSIST_SHARED", str(tmp_path / "data"))
    small = {"mode": "generate", "budget": 6}  # tiny budgets, fast
    monkeypatch.setitem(levers.LEVERS, "budget-256-noguard", small | {"loop_guard": False})
    monkeypatch.setitem(levers.LEVERS, "t0.6-512", small | {"temperature": 0.6})
    monkeypatch.setitem(levers.LEVERS, "sc5-512", small | {"samples": 3, "temperature": 0.6})
    args = ["--only", "loglik", "loglik-3shot", "budget-256-noguard", "t0.6-512", "sc5-512", "--n-loglik", "4", "--n-generate", "2",
            "--cells", str(tmp_path / "cells"), "--results", str(tmp_path / "levers.json"), "--threads", "1"]
    levers.main(args)
    rows = {r["lever"]: r for r in json.loads((tmp_path / "levers.json").read_text())}
    assert set(rows) == {"loglik", "loglik-3shot", "budget-256-noguard", "t0.6-512", "sc5-512"}
    assert rows["loglik-3shot"]["shots"] == 3 and rows["loglik"]["n"] == 4
    assert rows["sc5-512"]["samples"] == 3 and rows["budget-256-noguard"]["thinking_budget"] == 6
    assert rows["budget-256-noguard"]["loop_guard"] is False and rows["budget-256-noguard"]["temperature"] == 0
    assert rows["t0.6-512"]["temperature"] == 0.6 and rows["t0.6-512"]["samples"] == 1
    assert sum(rows["sc5-512"]["think_end"].values()) == 2 * 3  # what closed each of the six chains
    items = [json.loads(x) for x in (tmp_path / "cells" / "ft-int8.medmcqa.sc5-512.2.jsonl").read_text().splitlines()]
    assert all(len(r["votes"]) == 3 for r in items)
    few = (tmp_path / "cells" / "ft-int8.medmcqa.loglik-3shot.4.jsonl").read_text()
    assert [json.loads(x)["id"] for x in few.splitlines()] == [0, 1, 2, 3]  # exemplars are ids 5-7, the last 3
    assert "| sc5-512 | 2 |" in capsys.readouterr().out
    # A second run reuses every finished cell (nothing is measured twice) and prints the same table.
    shutil.rmtree(models_dir() / FT)
    levers.main(args)
    assert "| loglik-3shot | 4 |" in capsys.readouterr().out
