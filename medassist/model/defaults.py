"""Generation settings, kept once: one dataclass, one preset per kind of work.

    from medassist.model.defaults import QA, DOCUMENT, EXAM
    engine.stream(messages)                              # QA's settings (the engine's own defaults)
    engine.stream(messages, **DOCUMENT.kwargs())         # summaries, questions about a paper, outlines

The engine, the app, `medassist-model ask` and evaluation all read these; a change here changes every one.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class GenerationDefaults:
    thinking_budget: int = 1024  # reasoning tokens; then "</think>" is forced. 0 = no reasoning
    max_new_tokens: int = 768  # answer tokens
    temperature: float = 0.6  # 0 = greedy
    top_p: float = 0.95
    repetition_penalty: float = 1.15  # >1 makes tokens already in the sequence less likely; 1 = off
    loop_guard: bool = True  # close reasoning that repeats itself

    def kwargs(self, **override) -> dict:
        """As keyword arguments for Engine.stream / generate."""
        return dataclasses.asdict(self) | override


# Questions (Q&A tab, `medassist-model ask`). With a 1,024-token budget and penalty 1.15 the fine-tuned
# model closed its own reasoning on 199 of 200 MedMCQA questions (greedy) and 20 of 20 at T=0.6,
# against 14 of 20 at 512 tokens without the penalty, where it looped (docs/finetune.md, "Levers").
QA = GenerationDefaults()
# Paper work: no reasoning, greedy, no penalty (a summary must copy the paper's numbers and words,
# which a repetition penalty would push the model away from).
DOCUMENT = GenerationDefaults(thinking_budget=0, max_new_tokens=300, temperature=0.0, repetition_penalty=1.0)
# Exams (medassist-eval): greedy, penalty off unless asked, so the exam tables stay reproducible.
EXAM = GenerationDefaults(thinking_budget=512, max_new_tokens=256, temperature=0.0, repetition_penalty=1.0)
