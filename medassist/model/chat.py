"""The one prompt format, shared by training (medassist/finetune) and inference (medassist/model/engine).

A conversation is rendered with the model's own chat template (Jinja, read from
the model folder, rendered the way transformers renders it) and the assistant
turn is opened with "<think>\\n", so the model always starts by reasoning.
Templates that pre-fill "<think>" themselves (DeepSeek-R1-Distill) are detected
and not filled twice. A training target is the rest of that turn:

    prompt     = render(system + question, add_generation_prompt) + "<think>\\n"
    completion = reasoning + "\\n</think>\\n\\n" + answer + eos

Because both sides call build_prompt(), the formats cannot drift.
"""
from __future__ import annotations

import json
import re
from datetime import datetime
from functools import lru_cache
from pathlib import Path

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
# Appended when the thinking budget runs out, so the model moves on to its answer.
FORCE_CLOSE = "\n" + THINK_CLOSE + "\n\n"

SYSTEM_PROMPT = (
    "You are MedAssist, a careful medical assistant for clinicians and medical researchers. "
    "First reason step by step about the question inside <think> </think>: the key findings, "
    "the differential, and what would confirm or exclude each possibility. Then give a clear, "
    "concise answer. Answer in the language of the question. You support, and never replace, "
    "clinical judgement."
)


# The same instructions in Chinese, for Chinese questions: under the English prompt the fine-tuned
# model (trained on English records only) answered a Chinese question in English, even when told to
# answer in Chinese; under this one it reasoned and answered in Chinese (README, "Limits").
SYSTEM_PROMPT_ZH = (
    "你是 MedAssist，面向临床医生和医学研究者的严谨医学助手。先在 <think> </think> 中逐步推理："
    "关键发现、鉴别诊断、以及支持或排除每种可能的依据。然后用中文给出清晰、简洁的回答。"
    "你辅助而绝不取代临床判断。"
)


def is_chinese(text: str) -> bool:
    """More CJK characters than Latin words: "患者CT显示肺结节" is Chinese, "What is 黄芪?" is not."""
    cjk = len(re.findall(r"[\u4e00-\u9fff]", text))
    return cjk > len(re.findall(r"[A-Za-z]+", text))


def load_chat_template(model_dir: str | Path) -> str:
    """The chat template saved with a model (transformers 5 writes chat_template.jinja)."""
    d = Path(model_dir)
    if (d / "chat_template.jinja").exists():
        return (d / "chat_template.jinja").read_text(encoding="utf-8")
    cfg = d / "tokenizer_config.json"
    if cfg.exists():
        tpl = json.loads(cfg.read_text(encoding="utf-8")).get("chat_template")
        if isinstance(tpl, list):  # named templates: take the default one
            tpl = next((t["template"] for t in tpl if t.get("name") == "default"), tpl[0]["template"])
        if tpl:
            return tpl
    raise FileNotFoundError(f"No chat template in {d} (expected chat_template.jinja or tokenizer_config.json)")


def special_tokens(model_dir: str | Path) -> dict[str, str]:
    cfg = Path(model_dir) / "tokenizer_config.json"
    data = json.loads(cfg.read_text(encoding="utf-8")) if cfg.exists() else {}
    out = {}
    for key in ("bos_token", "eos_token"):
        v = data.get(key)
        out[key] = (v.get("content") if isinstance(v, dict) else v) or ""
    return out


@lru_cache(maxsize=8)
def _compile(template: str):
    # Same environment transformers uses for chat templates: sandboxed, trim_blocks, lstrip_blocks.
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message):
        raise ValueError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.filters["tojson"] = lambda x, indent=None, ensure_ascii=False: json.dumps(x, indent=indent, ensure_ascii=ensure_ascii)
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env.from_string(template)


def render_chat(template: str, messages: list[dict], *, add_generation_prompt: bool = True,
                bos_token: str = "", eos_token: str = "") -> str:
    return _compile(template).render(messages=messages, add_generation_prompt=add_generation_prompt,
                                     bos_token=bos_token, eos_token=eos_token, tools=None)


def question_language(messages: list[dict]) -> str:
    """"zh" when the last question is Chinese, else "en": the language MedAssist's system prompt should use."""
    last = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    return "zh" if isinstance(last, str) and is_chinese(last) else "en"


def system_prompt(lang: str) -> str:
    """MedAssist's system prompt in "en" or "zh". Training and inference both choose it with
    question_language(), so a question is answered under the prompt it was trained under."""
    return SYSTEM_PROMPT_ZH if lang == "zh" else SYSTEM_PROMPT


def with_system(messages: list[dict], system: str | None) -> list[dict]:
    """Put the system prompt first (none when system is None or the conversation already has one)."""
    if not system or (messages and messages[0]["role"] == "system"):
        return list(messages)
    return [{"role": "system", "content": system}] + list(messages)


def build_prompt(template: str, messages: list[dict], *, system: str | None,
                 bos_token: str = "", eos_token: str = "", think: bool = True) -> str:
    """Render a conversation and open the assistant turn in the thinking phase.

    think=False closes the thinking block at once (a zero thinking budget).
    """
    text = render_chat(template, with_system(messages, system), add_generation_prompt=True,
                       bos_token=bos_token, eos_token=eos_token)
    if not text.rstrip().endswith(THINK_OPEN):
        text += THINK_OPEN + "\n"
    elif not text.endswith("\n"):
        text += "\n"
    if not think:
        text += THINK_CLOSE + "\n\n"
    return text


def format_completion(reasoning: str, answer: str, eos_token: str) -> str:
    return f"{reasoning.strip()}{FORCE_CLOSE}{answer.strip()}{eos_token}"


def assistant_turn(reasoning: str, answer: str) -> str:
    """A past assistant turn for the history sent back to the model, as the model wrote it after
    build_prompt's "<think>\\n" (the format training taught, format_completion). A follow-up's prompt then
    repeats the model's own tokens and the engine reads only the new turn (engine/local.py); a template
    that drops earlier reasoning (DeepSeek-R1's) still gets only the answer, and is read again from there."""
    if not reasoning.strip():
        return answer.strip()
    return THINK_OPEN + "\n" + format_completion(reasoning, answer, "")


def training_pair(template: str, question: str, reasoning: str, answer: str, *,
                  bos_token: str = "", eos_token: str, lang: str | None = None) -> tuple[str, str]:
    """(prompt, completion) for one supervised example; the loss covers the completion only. The system
    prompt is MedAssist's in `lang`, by default the question's language (as the app chooses it)."""
    msgs = [{"role": "user", "content": question}]
    prompt = build_prompt(template, msgs, system=system_prompt(lang or question_language(msgs)), bos_token=bos_token,
                          eos_token=eos_token)
    return prompt, format_completion(reasoning, answer, eos_token)
