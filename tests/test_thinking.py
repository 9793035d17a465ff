"""The streaming <think> parser: tags split anywhere, missing tags, repeated tags."""
import pytest

from medassist.model.thinking import ThinkParser, split


def run(pieces, prefilled=True):
    p = ThinkParser(prefilled)
    out = [seg for piece in pieces for seg in p.feed(piece)] + p.flush()
    think = "".join(t for ph, t in out if ph == "thinking")
    answer = "".join(t for ph, t in out if ph == "answer")
    return think, answer


TEXT = "\nThe pain radiates to the arm.\n</think>\n\nAcute coronary syndrome."


@pytest.mark.parametrize("cut", range(len(TEXT) + 1))
def test_close_tag_split_at_every_position(cut):
    assert run([TEXT[:cut], TEXT[cut:]]) == ("The pain radiates to the arm.", "Acute coronary syndrome.")


def test_one_character_at_a_time():
    assert run(list(TEXT)) == ("The pain radiates to the arm.", "Acute coronary syndrome.")


def test_model_opens_the_tag_itself_when_not_prefilled():
    text = "<think>reasoning</think>answer"
    for cut in range(len(text) + 1):
        assert run([text[:cut], text[cut:]], prefilled=False) == ("reasoning", "answer")


def test_no_think_tag_at_all_is_all_answer():
    assert run(["Just an", " answer."], prefilled=False) == ("", "Just an answer.")


def test_repeated_open_tag_after_prefill_is_dropped():
    assert run(["<thi", "nk>\nstep one</think>done"]) == ("step one", "done")


def test_never_closed_stays_thinking():
    assert run(["still reasoning about </thi"]) == ("still reasoning about </thi", "")


def test_partial_close_tag_that_is_not_a_tag_is_emitted():
    assert run(["a </thx b", "</think>c"]) == ("a </thx b", "c")


def test_nothing_is_held_back_needlessly():
    p = ThinkParser(True)
    assert p.feed("step one ") == [("thinking", "step one")]
    assert p.feed("and </th") == [("thinking", " and")]


def test_split_helper_and_chinese():
    assert split("思考：胸痛。</think>诊断：心肌梗死") == ("思考：胸痛。", "诊断：心肌梗死")
