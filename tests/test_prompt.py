"""The shared prompt module: renders like transformers, pre-fills <think> once, trains on the same format."""
from model import prompt as P
from tests.tiny import QWEN_TEMPLATE, R1_TEMPLATE

MSGS = [{"role": "user", "content": "Chest pain radiating to the left arm?"}]


def test_render_matches_transformers(tiny_hf):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_hf)
    msgs = P.with_system(MSGS)
    assert P.render_chat(P.load_chat_template(tiny_hf), msgs) == \
        tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)


def test_prompt_opens_thinking():
    text = P.build_prompt(QWEN_TEMPLATE, MSGS)
    assert text.endswith("<|im_start|>assistant\n<think>\n")
    assert P.SYSTEM_PROMPT in text


def test_r1_template_prefill_is_not_doubled():
    text = P.build_prompt(R1_TEMPLATE, MSGS, bos_token="<s>", eos_token="</s>")
    assert text.count("<think>") == 1 + P.SYSTEM_PROMPT.count("<think>")
    assert text.endswith("<｜Assistant｜><think>\n")


def test_zero_budget_closes_thinking_in_the_prompt():
    assert P.build_prompt(QWEN_TEMPLATE, MSGS, think=False).endswith("<think>\n</think>\n\n")


def test_training_pair_uses_the_inference_prompt():
    prompt, completion = P.training_pair(QWEN_TEMPLATE, MSGS[0]["content"], " reasoning ", " answer ",
                                         eos_token="<|im_end|>")
    assert prompt == P.build_prompt(QWEN_TEMPLATE, MSGS)
    assert completion == "reasoning\n</think>\n\nanswer<|im_end|>"


def test_mcq_prompt_letters():
    text = P.mcq_prompt("Which?", ["a", "b", "c"])
    assert "(A) a\n(B) b\n(C) c" in text


def test_chinese_questions_get_the_chinese_system_prompt():
    assert P.is_chinese("患者CT显示肺结节，下一步？") and not P.is_chinese("What is 黄芪 used for?")
    zh = P.build_prompt(QWEN_TEMPLATE, [{"role": "user", "content": "胸痛向左臂放射，最可能的诊断？"}])
    en = P.build_prompt(QWEN_TEMPLATE, MSGS)
    assert P.SYSTEM_PROMPT_ZH in zh and P.SYSTEM_PROMPT not in zh
    assert P.SYSTEM_PROMPT in en and P.SYSTEM_PROMPT_ZH not in en
    # the last question decides; training renders through the same function, so it cannot drift
    turns = [{"role": "user", "content": "胸痛？"}, {"role": "assistant", "content": "…"}] + MSGS
    assert P.SYSTEM_PROMPT in P.build_prompt(QWEN_TEMPLATE, turns)
    prompt, _ = P.training_pair(QWEN_TEMPLATE, "胸痛向左臂放射？", "r", "a", eos_token="<|im_end|>")
    assert P.SYSTEM_PROMPT_ZH in prompt
    assert "OTHER" in P.build_prompt(QWEN_TEMPLATE, MSGS, system="OTHER")  # an explicit prompt is kept
