"""Multiple-choice questions as conversations, for evaluation (finetune's held-out exams and the model check).

    mcq_messages("Which drug ...?", ["A", "B", "C", "D"], shots=[...])
"""
from __future__ import annotations


def mcq_prompt(question: str, choices: list[str]) -> str:
    """A multiple-choice question with lettered options, as used by evaluation."""
    letters = "ABCDEFGHIJ"
    opts = "\n".join(f"({letters[i]}) {c}" for i, c in enumerate(choices))
    return f"{question.strip()}\n\nOptions:\n{opts}\n\nAnswer with the letter of the correct option."


def mcq_messages(question: str, choices: list[str], shots: list[dict] = ()) -> list[dict]:
    """A multiple-choice question as a conversation. Few-shot exemplars (dicts with question,
    choices, answer letters) come first as earlier turns, each answered "The answer is (X)."."""
    msgs = []
    for s in shots:
        msgs += [{"role": "user", "content": mcq_prompt(s["question"], s["choices"])},
                 {"role": "assistant", "content": f"The answer is ({s['answer'][0]})."}]
    return msgs + [{"role": "user", "content": mcq_prompt(question, choices)}]
