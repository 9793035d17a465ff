"""Evaluation harness: letter extraction on tricky outputs, intervals, and both modes on a tiny model."""
import json

import pytest

from medassist.evals.evaluate import evaluate, extract_letter, load_items, wilson


@pytest.mark.parametrize("text,expected", [
    ("The answer is (C).", "C"),
    ("Answer: b", "B"),
    ("**D**. Because the patient…", "D"),
    ("A is wrong and B is wrong, so the answer is D", "D"),
    ("(A) could be, but the correct option is (C)", "C"),
    ("答案是 B", "B"),
    ("C", "C"),
    ("I think it is Metformin.", "B"),  # quotes exactly one option's text
    ("It depends.", None),
    ("The answer is (E)", None),  # only four options
])
def test_extract_letter(text, expected):
    assert extract_letter(text, 4, ["Insulin", "Metformin", "Aspirin", "Statin"]) == expected


@pytest.mark.parametrize("text,choices,expected", [
    ("The flow is non-phasic.", ["Monophasic", "Biphasic", "Triphasic", "Non phasic"], "D"),
    ("This is pulmonary hypertension.", ["Hypertension", "Pulmonary hypertension", "Asthma", "COPD"], "B"),
    ("Suspect an insulinoma.", ["Insulin", "Glucagon", "Cortisol", "GH"], None),  # whole words only
    ("Either asthma or COPD.", ["Hypertension", "Pulmonary hypertension", "Asthma", "COPD"], None),
])
def test_extract_letter_from_quoted_option(text, choices, expected):
    assert extract_letter(text, 4, choices) == expected


def test_wilson_interval():
    lo, hi = wilson(35, 100)
    assert 0.26 < lo < 0.35 < hi < 0.45
    assert wilson(0, 0) == (0.0, 0.0)


def write_items(path, n=6):
    with open(path, "w") as f:
        for i in range(n):
            f.write(json.dumps({"problem_id": i, "problem_text": f"Question {i}?", "choices": ["w", "x", "y", "z"],
                                "answer": ["B"]}) + "\n")


def test_load_items_errors(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"problem_text": "q"}\n')
    with pytest.raises(ValueError, match="bad.jsonl:1"):
        load_items(p)


@pytest.mark.parametrize("mode", ["loglik", "generate"])
def test_evaluate_tiny_onnx_and_torch_agree(tmp_path, tiny_hf, tiny_onnx_fp32, mode):
    from medassist.model.engine.onnx_engine import OnnxEngine
    from medassist.model.engine.torch_engine import TorchEngine

    data = tmp_path / "exam.jsonl"
    write_items(data)
    items = load_items(data)
    out = tmp_path / "items.jsonl"
    a = evaluate(OnnxEngine(tiny_onnx_fp32, threads=1), items, mode, budget=8, max_new_tokens=8, out=out, progress=False)
    b = evaluate(TorchEngine(tiny_hf, dtype="float32", threads=1), items, mode, budget=8, max_new_tokens=8, progress=False)
    assert a["n"] == 6 and 0 <= a["accuracy"] <= 1 and len(out.read_text().splitlines()) == 6
    assert a["accuracy"] == b["accuracy"]  # fp32 ONNX and PyTorch pick the same letters
    if mode == "generate":
        assert "format_compliance" in a and a["mean_reasoning_tokens"] > 0


def test_vote_majority_and_ties():
    from medassist.evals.evaluate import vote

    assert vote(["A", "B", "B"]) == "B"
    assert vote(["C", None, "A"]) == "C"  # a tie goes to the letter given first
    assert vote([None, None]) is None


def test_few_shot_exemplars_are_never_evaluated(tmp_path):
    from medassist.evals.evaluate import with_shots
    from medassist.evals import mcq as P

    data = tmp_path / "exam.jsonl"
    write_items(data, n=6)
    items, shots = with_shots(data, None, 2)
    assert [s["id"] for s in shots] == [4, 5] and [i["id"] for i in items] == [0, 1, 2, 3]
    assert [i["id"] for i in with_shots(data, 3, 2)[0]] == [0, 1, 2]
    msgs = P.mcq_messages("Which?", ["p", "q"], shots)
    assert [m["role"] for m in msgs] == ["user", "assistant", "user", "assistant", "user"]
    assert msgs[1]["content"] == "The answer is (B)." and "Question 4?" in msgs[0]["content"]
    with pytest.raises(ValueError, match="too few"):
        with_shots(data, None, 6)


def test_self_consistency_votes_over_sampled_chains(tmp_path):
    from medassist.evals.evaluate import score_generate
    from tests.fake import ScriptedEngine

    replies = iter(["weigh it\n</think>\n\nThe answer is (A).", "hmm\n</think>\n\nThe answer is (C).",
                    "so\n</think>\n\nThe answer is (C).", "-" * 50])  # the last chain never closes its reasoning
    engine = ScriptedEngine(lambda prompt: next(replies))
    item = {"question": "Q?", "choices": ["w", "x", "y", "z"], "answer": ["C"]}
    r = score_generate(engine, item, budget=20, max_new_tokens=30, samples=4, temperature=0.7, seed=3)
    assert r["votes"] == ["A", "C", "C", None] and r["pred"] == "C"
    assert r["compliant"] == 0.75  # three of the four chains closed their reasoning and answered
    assert len(engine.prompts) == 4


def test_resume_scores_only_new_items_and_survives_a_cut_line(tmp_path, monkeypatch):
    import types

    import medassist.evals.evaluate as E

    calls = []

    def fake_loglik(engine, item, shots=()):
        calls.append(item["id"])
        return {"pred": "B" if item["id"] % 2 else "A"}

    monkeypatch.setattr(E, "score_loglik", fake_loglik)
    engine = types.SimpleNamespace(info=types.SimpleNamespace(name="fake"))
    data, out = tmp_path / "exam.jsonl", tmp_path / "cell.jsonl"
    write_items(data, n=6)
    items = load_items(data)
    evaluate(engine, items[:3], out=out, progress=False, resume=True)  # nothing to resume yet
    assert calls == [0, 1, 2]
    with open(out, "a") as f:
        f.write('{"pred": "A", "id": 3, "gol')  # the run was killed while writing item 3
    s = evaluate(engine, items, out=out, progress=False, resume=True)
    assert calls == [0, 1, 2, 3, 4, 5] and s["resumed"] == 3 and s["n"] == 6
    assert s["accuracy"] == 0.5  # odd ids answered B, the gold letter
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == [0, 1, 2, 3, 4, 5]
    evaluate(engine, items[:2], out=out, progress=False)  # without resume: everything is scored afresh
    assert calls[6:] == [0, 1] and len(out.read_text().splitlines()) == 2


def test_a_larger_cell_starts_from_the_smaller_one(tmp_path):
    from medassist.evals.eval_table import _seed_from_smaller

    (tmp_path / "ft.medmcqa.rp1.1-1024.3.jsonl").write_text('{"id": 0}\n')
    (tmp_path / "ft.medmcqa.rp1.1-1024.5.jsonl").write_text('{"id": 0}\n{"id": 1}\n')
    (tmp_path / "ft.medmcqa.rp1.1-1024-noguard.9.jsonl").write_text("other setting\n")
    out = tmp_path / "ft.medmcqa.rp1.1-1024.8.jsonl"
    assert _seed_from_smaller(out, 8).name == "ft.medmcqa.rp1.1-1024.5.jsonl"  # the largest smaller cell
    assert out.read_text() == '{"id": 0}\n{"id": 1}\n'
    assert _seed_from_smaller(out, 8) is None  # the cell has rows of its own now
    assert _seed_from_smaller(tmp_path / "ft.medmcqa.budget-512.8.jsonl", 8) is None


@pytest.mark.parametrize("text,expected", [
    ("The correct answer is:\n\nC", "C"),  # "is" and a colon, the letter alone on the last line
    ("Answer:\nB.", "B"),
    ("So, in summary:\n\nD", "D"),
])
def test_extract_letter_alone_on_its_line(text, expected):
    assert extract_letter(text, 4) == expected
