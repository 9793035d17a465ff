"""The shared prompt module: renders like transformers, pre-fills <think> once, trains on the same format."""
from medassist.model import chat as P
from tests.tiny import QWEN_TEMPLATE, R1_TEMPLATE

MSGS = [{"role": "user", "content": "Chest pain radiating to the left arm?"}]
EN = P.SYSTEM_PROMPT


def test_render_matches_transformers(tiny_hf):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_hf)
    msgs = P.with_system(MSGS, EN)
    assert P.render_chat(P.load_chat_template(tiny_hf), msgs) == \
        tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)


def test_prompt_opens_thinking():
    text = P.build_prompt(QWEN_TEMPLATE, MSGS, system=EN)
    assert text.endswith("<|im_start|>assistant\n<think>\n")
    assert P.SYSTEM_PROMPT in text


def test_r1_template_prefill_is_not_doubled():
    text = P.build_prompt(R1_TEMPLATE, MSGS, system=EN, bos_token="<s>", eos_token="</s>")
    assert text.count("<think>") == 1 + P.SYSTEM_PROMPT.count("<think>")
    assert text.endswith("<｜Assistant｜><think>\n")


def test_zero_budget_closes_thinking_in_the_prompt():
    assert P.build_prompt(QWEN_TEMPLATE, MSGS, system=EN, think=False).endswith("<think>\n</think>\n\n")


def test_training_pair_uses_the_inference_prompt():
    prompt, completion = P.training_pair(QWEN_TEMPLATE, MSGS[0]["content"], " reasoning ", " answer ",
                                         eos_token="<|im_end|>")
    assert prompt == P.build_prompt(QWEN_TEMPLATE, MSGS, system=EN)
    assert completion == "reasoning\n</think>\n\nanswer<|im_end|>"


def test_mcq_prompt_letters():
    from medassist.evals.mcq import mcq_prompt

    text = mcq_prompt("Which?", ["a", "b", "c"])
    assert "(A) a\n(B) b\n(C) c" in text


def test_chinese_questions_get_the_chinese_system_prompt():
    assert P.is_chinese("患者CT显示肺结节，下一步？") and not P.is_chinese("What is 黄芪 used for?")
    zh_q = [{"role": "user", "content": "胸痛向左臂放射，最可能的诊断？"}]
    assert P.question_language(zh_q) == "zh" and P.question_language(MSGS) == "en"
    assert P.system_prompt("zh") == P.SYSTEM_PROMPT_ZH and P.system_prompt("en") == P.SYSTEM_PROMPT
    # the last question decides
    turns = [{"role": "user", "content": "胸痛？"}, {"role": "assistant", "content": "…"}] + MSGS
    assert P.question_language(turns) == "en"
    # training chooses the prompt the same way the app does, so they cannot drift
    prompt, _ = P.training_pair(QWEN_TEMPLATE, "胸痛向左臂放射？", "r", "a", eos_token="<|im_end|>")
    assert P.SYSTEM_PROMPT_ZH in prompt and P.SYSTEM_PROMPT not in prompt
    # and the language is a choice a caller can make: English instructions on a Chinese question
    en = P.build_prompt(QWEN_TEMPLATE, zh_q, system=P.system_prompt("en"))
    assert P.SYSTEM_PROMPT in en and P.SYSTEM_PROMPT_ZH not in en
    prompt, _ = P.training_pair(QWEN_TEMPLATE, "胸痛向左臂放射？", "r", "a", eos_token="<|im_end|>", lang="en")
    assert P.SYSTEM_PROMPT in prompt
    assert "OTHER" in P.build_prompt(QWEN_TEMPLATE, MSGS, system="OTHER")  # any prompt, or none
    assert "You are MedAssist" not in P.build_prompt(QWEN_TEMPLATE, MSGS, system=None)
