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
    first, last = h.feedback.answer_ids(cid)
    assert h.feedback.rate(first, 1)
    assert h.feedback.rate(last, correction="Do not start allopurinol in a flare; Dr John Smith, MRN 12345678.")
    assert h.feedback.counts() == {"up": 1, "down": 1, "corrections": 1}  # a correction says the answer was wrong
    stored = h.db.execute("SELECT correction FROM feedback WHERE correction != ''").fetchone()[0]
    assert "12345678" not in stored and "John Smith" not in stored and "allopurinol" in stored
    assert h.feedback.ratings([first, None, last]) == ["Like", None, "Dislike"]
    question_id = first - 1
    assert not h.feedback.rate(question_id, 1) and not h.feedback.rate(None, 1)  # only a stored answer
    assert h.feedback.rate(first, 1) and h.feedback.rate(first, correction="Febuxostat is an alternative.")
    assert h.feedback.counts() == {"up": 0, "down": 2, "corrections": 2}  # 👍 then corrected: no longer 👍
    who["u"] = "bob"
    assert not h.feedback.rate(first, -1) and h.feedback.counts() == {"up": 0, "down": 0, "corrections": 0}
    assert h.feedback.answer_ids(cid) == [] and h.feedback.ratings([first, last]) == [None, None]
    who["u"] = "alice"
    h.delete(cid)
    assert h.db.execute("SELECT COUNT(*) FROM feedback").fetchone()[0] == 0  # deleted with the conversation
    assert any(e["action"] == "feedback" for e in h.audit.entries())


def test_export_gives_training_records(tmp_path):
    h = History(tmp_path / "history.sqlite")
    cid = conversation(h)
    other = h.save_turn(None, "x", "A question rated down?", "A wrong answer.", "Some reasoning.")
    first, last = h.feedback.answer_ids(cid)
    h.feedback.rate(first, 1)  # approved: the model's answer is the response
    h.feedback.rate(last, correction="Keep allopurinol if already taking it; treat the flare with colchicine.")
    h.feedback.rate(h.feedback.answer_ids(other)[0], -1)  # rated down, no correction: left out
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
    state = {"cid": cid, "answers": h.feedback.answer_ids(cid)}
    like = lambda i, liked: on_like(h, state, chat, "English", SimpleNamespace(index=i, liked=liked))  # noqa: E731
    assert like(4, False).startswith("Rating saved.") and "0 👍, 1 👎" in like(4, False)
    assert "not the question" in like(0, True)
    assert on_like(h, {"cid": None}, chat, "English", SimpleNamespace(index=2, liked=True)).startswith("Only a saved")
    note, box = save_correction(h, state, "  ", "English")
    assert "Write the corrected answer first" in note and box == "  "
    note, box = save_correction(h, state, "Colchicine for the flare.", "English")
    assert note.startswith("Correction saved.") and "1 corrected" in note and box == ""


def test_ratings_follow_the_answers_on_screen_through_regenerate_errors_and_reopening(tmp_path):
    from medassist.app.config import AppConfig
    from medassist.app.service import ModelService
    from medassist.app.tabs.feedback import shown
    from medassist.app.tabs.qa import new_state, open_conversation, regenerate, respond
    from tests.fake import ScriptedEngine

    def last(gen):
        return list(gen)[-1]

    h = History(tmp_path / "history.sqlite")
    service = ModelService(AppConfig(), engine=ScriptedEngine("Think.</think>Colchicine."))
    state = new_state()
    chat = last(respond(service, h, "Flare treatment?", [], state, 64, 0.6, 64, "English"))[0]
    chat = last(respond(service, h, "And after it?", chat, state, 64, 0.6, 64, "English"))[0]
    chat = last(regenerate(service, h, chat, state, 64, 0.6, 64, "English"))[0]
    stored = h.feedback.answer_ids(state["cid"])
    assert len(stored) == 3 and state["answers"] == [stored[0], stored[2]]  # the regenerated answer replaced the 2nd
    like = SimpleNamespace(index=len(chat) - 1, liked=False)
    assert on_like(h, state, chat, "English", like).startswith("Rating saved.")
    assert h.feedback.ratings(stored) == [None, None, "Dislike"]  # the answer on screen, not the one it replaced
    assert shown(h, state).constructor_args == {"feedback_value": [None, "Dislike"]}
    assert save_correction(h, state, "Allopurinol once the flare settles.", "English")[0].startswith("Correction saved.")
    broken = ModelService(AppConfig(), engine=ScriptedEngine(lambda prompt: 1 / 0))
    chat = last(respond(broken, h, "And the dose?", chat, state, 64, 0.6, 64, "English"))[0]
    assert state["answers"][-1] is None  # an error message on screen: nothing to rate
    assert on_like(h, state, chat, "English", SimpleNamespace(index=len(chat) - 1, liked=True)).startswith("Only a saved")
    retry = ModelService(AppConfig(), engine=ScriptedEngine("Think.</think>Low dose."))
    chat = last(regenerate(retry, h, chat, state, 64, 0.6, 64, "English"))[0]  # the failed question, asked again
    assert "Colchicine.<user>And the dose?<assistant>" in retry.engine.last_prompt  # with the turns before it
    assert [m["role"] for m in chat].count("user") == 3 and chat[-1]["content"] == "Low dose."
    stored = h.feedback.answer_ids(state["cid"])
    assert state["answers"] == [stored[0], stored[2], stored[3]]
    reopened, state2 = open_conversation(h, state["cid"])
    assert state2["answers"] == stored
    assert shown(h, state2).constructor_args == {"feedback_value": [None, None, "Dislike", None]}
    assert shown(h, new_state()).constructor_args == {"feedback_value": []}  # a new chat shows no ratings
