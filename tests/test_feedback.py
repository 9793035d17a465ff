"""Clinicians' feedback on answers: ratings and corrections stored per account and redacted, deleted with their
conversation, counted, exported as medical-o1 fine-tuning records the data stage reads; the Q&A handlers."""
import json
from types import SimpleNamespace

from medassist.app.tabs.feedback import answer_number, on_like, save_correction
from medassist.finetune import data
from medassist.store.feedback import export
from medassist.store.history import History


def conversation(h: History) -> int:
    cid = h.save_turn(None, "Gout", "What lowers uric acid?", "Allopurinol lowers it.", "Xanthine oxidase...")
    h.save_turn(cid, "Gout", "And in a flare?", "Start allopurinol during a flare.", "Flares are treated with...")
    return cid


def test_ratings_and_corrections_per_account_redacted_and_deleted(tmp_path):
    who = {"u": "alice"}
    h = History(tmp_path / "history.sqlite", user=lambda: who["u"])
    cid = conversation(h)
    assert h.feedback.rate(cid, 0, 1)
    assert h.feedback.rate(cid, -1, correction="Do not start allopurinol in a flare; Dr John Smith, MRN 12345678.")
    assert h.feedback.counts() == {"up": 1, "down": 1, "corrections": 1}  # a correction says the answer was wrong
    stored = h.db.execute("SELECT correction FROM feedback WHERE correction != ''").fetchone()[0]
    assert "12345678" not in stored and "John Smith" not in stored and "allopurinol" in stored
    assert not h.feedback.rate(cid, 5, 1) and not h.feedback.rate(None, 0, 1)
    assert h.feedback.rate(cid, 0, 1) and h.feedback.rate(cid, 0, correction="Febuxostat is an alternative.")
    assert h.feedback.counts() == {"up": 0, "down": 2, "corrections": 2}  # 👍 then corrected: no longer 👍
    who["u"] = "bob"
    assert not h.feedback.rate(cid, 0, -1) and h.feedback.counts() == {"up": 0, "down": 0, "corrections": 0}
    who["u"] = "alice"
    h.delete(cid)
    assert h.db.execute("SELECT COUNT(*) FROM feedback").fetchone()[0] == 0  # deleted with the conversation
    assert any(e["action"] == "feedback" for e in h.audit.entries())


def test_export_gives_training_records(tmp_path):
    h = History(tmp_path / "history.sqlite")
    cid = conversation(h)
    other = h.save_turn(None, "x", "A question rated down?", "A wrong answer.", "Some reasoning.")
    h.feedback.rate(cid, 0, 1)  # approved: the model's answer is the response
    h.feedback.rate(cid, 1, correction="Keep allopurinol if already taking it; treat the flare with colchicine.")
    h.feedback.rate(other, 0, -1)  # rated down, no correction: left out
    h.close()
    n = export(tmp_path / "history.sqlite", tmp_path / "fb.jsonl")
    assert n == {"written": 2, "approved": 1, "corrected": 1, "rejected_without_correction": 1, "without_reasoning": 0}
    rows = [json.loads(x) for x in (tmp_path / "fb.jsonl").read_text().splitlines()]
    assert rows[0] == {"Question": "What lowers uric acid?", "Complex_CoT": "Xanthine oxidase...",
                       "Response": "Allopurinol lowers it."}
    assert rows[1]["Question"] == "And in a flare?" and rows[1]["Response"].startswith("Keep allopurinol")
    examples, report = data.load(str(tmp_path / "fb.jsonl"))
    assert report.kept == 2


def test_the_qa_handlers(tmp_path):
    h = History(tmp_path / "history.sqlite")
    cid = conversation(h)
    chat = [{"role": "user", "content": "What lowers uric acid?"},
            {"role": "assistant", "content": "thinking", "metadata": {"title": "Reasoning"}},
            {"role": "assistant", "content": "Allopurinol lowers it."},
            {"role": "user", "content": "And in a flare?"},
            {"role": "assistant", "content": "Start allopurinol during a flare."}]
    assert [answer_number(chat, i) for i in range(6)] == [None, 0, 0, None, 1, None]  # a reasoning panel: its answer
    state = {"cid": cid}
    like = lambda i, liked: on_like(h, state, chat, "English", SimpleNamespace(index=i, liked=liked))  # noqa: E731
    assert like(4, False).startswith("Rating saved.") and "0 👍, 1 👎" in like(4, False)
    assert "not the question" in like(0, True)
    assert on_like(h, {"cid": None}, chat, "English", SimpleNamespace(index=2, liked=True)).startswith("Only a saved")
    note, box = save_correction(h, state, "  ", "English")
    assert "Write the corrected answer first" in note and box == "  "
    note, box = save_correction(h, state, "Colchicine for the flare.", "English")
    assert note.startswith("Correction saved.") and "1 corrected" in note and box == ""
