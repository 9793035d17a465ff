"""The claim-level support check (papers/support.py): the engine scores many prompts in one state exactly as one
at a time, the judge decides support in Q&A answers and summaries, and the labelled set it was measured on."""
import csv
import json

import pytest

from medassist.app.config import AppConfig
from medassist.app.service import ModelService
from medassist.model.paths import REPO
from medassist.papers.passages import PaperIndex
from medassist.papers.pdfread import read_pdf
from medassist.papers.reference import Hit
from medassist.papers.sources import check_answer
from medassist.papers.summarize import SummaryConfig, summarize, to_markdown
from medassist.papers.support import JUDGE_MIN, can_judge, margins, prompt
from tests.fake import HashEmbedder, ScriptedEngine
from tests.pdfs import two_column_paper
from tests.test_sources import _ask, reference  # noqa: F401 (a fixture)

PASSAGE = "Aspirin and clot-busting medicines are used for a heart attack; they restore blood flow to the heart."
HITS = [Hit(0, 0, PASSAGE, "Heart Attack — treatment", "NHLBI (NIH)")]


def warfarin_is_unstated(passage: str, statement: str) -> float:
    return -2.0 if "warfarin" in statement.lower() else 1.5


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_many_prompts_in_one_state_score_as_each_read_whole(backend, tiny_onnx_fp32, tiny_hf):
    if backend == "onnx":
        from medassist.model.engine.onnx_engine import OnnxEngine
        engine = OnnxEngine(tiny_onnx_fp32, threads=1)
    else:
        from medassist.model.engine.torch_engine import TorchEngine
        engine = TorchEngine(tiny_hf, dtype="float32", threads=1)
    prompts = [prompt(PASSAGE, "Aspirin is used."), prompt(PASSAGE, "Warfarin is used in breast cancer."),
               prompt("Another passage entirely.", "Aspirin is used."), prompt(PASSAGE, "Aspirin is used.")]
    many = engine.letter_scores_many(prompts, "AB")
    assert len(many) == 4 and many[0] == pytest.approx(many[3], abs=1e-3)  # the same prompt, read after others
    for p, got in zip(prompts, many):
        assert got == pytest.approx(engine.letter_scores(p, "AB"), abs=1e-3)
    assert engine.letter_scores_many([], "AB") == []
    # The next call starts from the kept state: it reads only where its prompts part from it, same scores.
    fed = []
    session = engine._scoring
    feed = session.feed
    session.feed = lambda ids: (fed.append(len(ids)), feed(ids))[1]
    later = [prompt("A third passage.", "Aspirin is used."), prompt(PASSAGE, "Warfarin is used.")]
    again = engine.letter_scores_many(later, "AB")
    whole = [len(engine.encode(engine.render(p, think=False) + "The answer is (")) for p in later]
    assert engine._scoring is session and 0 < sum(fed) < sum(whole) - 50  # the instructions were not read again
    for p, got in zip(later, again):
        assert got == pytest.approx(engine.letter_scores(p, "AB"), abs=1e-3)
    engine.forget()
    assert engine._scoring is None
    engine.reuse_kv = False  # exam runs: nothing kept
    engine.letter_scores_many(later, "AB")
    assert engine._scoring is None


def test_margins_come_back_in_the_pairs_order():
    engine = ScriptedEngine("", judge=lambda passage, statement: float(len(statement)))
    pairs = [("b passage", "xx"), ("a passage", "x"), ("b passage", "xxx")]
    assert margins(engine, pairs) == [2.0, 1.0, 3.0]
    assert [p.split("Statement: ")[1] for p in engine.prompts] == ["x", "xx", "xxx"]  # grouped by passage


def test_who_can_judge():
    assert can_judge(ScriptedEngine("", judge=warfarin_is_unstated))
    assert not can_judge(ScriptedEngine(""))  # no letter scores: a server's model
    assert not can_judge(None)
    service = ModelService(AppConfig(), engine=None)
    assert not can_judge(service)  # not loaded yet
    assert can_judge(ModelService(AppConfig(), engine=ScriptedEngine("", judge=warfarin_is_unstated)))


def test_the_judge_decides_support_in_an_answer():
    answer = ("Aspirin and clot-busting medicines restore blood flow in a heart attack. "
              "Warfarin and clot-busting medicines restore blood flow in a heart attack.")
    similar = check_answer(answer, HITS, "", HashEmbedder())  # on topic, so the similarity rule keeps both
    assert [s["supported"] for s in similar.sentences] == [True, True]
    judged = check_answer(answer, HITS, "", HashEmbedder(), judge=ScriptedEngine("", judge=warfarin_is_unstated))
    assert [s["supported"] for s in judged.sentences] == [True, False]
    assert judged.sentences[1]["judge"] == -2.0 < JUDGE_MIN and judged.sentences[0]["cites"] == [1]
    assert judged.text.count("[1]") == 1 and "attack [1]." in judged.text.split("Warfarin")[0]
    heading = check_answer("Treatment:", HITS, "", HashEmbedder(), judge=ScriptedEngine("", judge=lambda *a: -9.0))
    assert "judge" not in heading.sentences[0]  # too short to judge: a list heading keeps the similarity rule
    zh = check_answer("阿司匹林用于心肌梗死。", HITS, "", HashEmbedder(), lang="zh",
                      judge=ScriptedEngine("", judge=warfarin_is_unstated))
    assert "judge" not in zh.sentences[0]  # the judge is not asked about a Chinese sentence it cannot compare


def test_qa_shows_how_many_sentences_a_source_states(reference, tmp_path):  # noqa: F811
    reply = ("The most common heart attack symptom is chest pain or discomfort. "
             "Warfarin is the first treatment for every heart attack symptom.")
    _, history, (chat, *_) = _ask(tmp_path, reference, reply, judge=warfarin_is_unstated)
    shown = chat[-1]["content"]
    assert "1 of 2 sentences are stated by a source" in shown and shown.count("src-cite") == 1
    meta = history.messages(history.conversations()[0]["id"])[-1]["meta"]
    assert meta["stated"] == [1, 2, True]


def test_a_summary_loses_what_its_passages_do_not_state(tmp_path):
    index = PaperIndex.build(read_pdf(two_column_paper(tmp_path / "p.pdf")), HashEmbedder())
    reply = ("- Readmissions fell from 41 to 18 of 120 patients [p. 2].\n"
             "- Readmissions fell because warfarin was given to 120 patients [p. 2].\n")
    engine = ScriptedEngine(reply, judge=warfarin_is_unstated)
    cfg = SummaryConfig(fields=("results",), drop_below=0.0)
    summary = list(summarize(index, engine, cfg))[-1]["summary"]
    kept = [b.text for b in summary.fields["results"]]
    assert kept == ["Readmissions fell from 41 to 18 of 120 patients."] and summary.fields["results"][0].judge == 1.5
    assert summary.dropped == [{"field": "results", "sentence": "Readmissions fell because warfarin was given to 120 "
                                "patients.", "missing": [], "reason": "unstated", "judge": -2.0}]
    assert "the passages it was read against do not state it" in to_markdown(summary)
    plain = list(summarize(index, ScriptedEngine(reply), cfg))[-1]["summary"]  # no letter scores: both kept
    assert len(plain.fields["results"]) == 2 and plain.dropped == []
    off = list(summarize(index, engine, SummaryConfig(fields=("results",), drop_below=0.0, judge=False)))[-1]
    assert len(off["summary"].fields["results"]) == 2


def labelled() -> list[dict]:
    text = (REPO / "benchmarks" / "labels" / "support.tsv").read_text(encoding="utf-8")
    return list(csv.DictReader((line for line in text.splitlines() if not line.startswith("#")), delimiter="\t"))


def test_the_labelled_set():
    rows = labelled()
    assert len(rows) >= 150 and {r["label"] for r in rows} == {"S", "C", "U"}
    assert len({r["claim"] for r in rows}) == len(rows)
    assert {int(r["pmid"]) < 20000000 for r in rows} == {True, False}  # a tuning half and a held-out half


def test_the_labelled_passages_exist(shared_data):
    abstracts = json.loads((shared_data / "eval" / "pubmedqa_pqal_labeled.json").read_text(encoding="utf-8"))
    assert all(len(abstracts[r["pmid"]]["CONTEXTS"][int(r["ctx"])]) > 100 for r in labelled())
