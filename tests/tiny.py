"""Tiny models for tests: a random 2-layer Qwen2 and a byte-level BPE tokenizer, built from a config here.

Built in a second or two on a CPU, shaped so every ONNX builder path works
(hidden and MLP sizes are multiples of the INT4 block size).
"""
from __future__ import annotations

from pathlib import Path

QWEN_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
# DeepSeek-R1-Distill style: the template itself pre-fills "<think>\n".
R1_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ message['content'] }}"
    "{% elif message['role'] == 'user' %}{{ '<｜User｜>' + message['content'] }}"
    "{% else %}{{ '<｜Assistant｜>' + message['content'].split('</think>')[-1] + eos_token }}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<｜Assistant｜><think>\\n' }}{% endif %}"
)
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CORPUS = [
    "The patient presents with chest pain radiating to the left arm.",
    "<think> Reasoning about the differential diagnosis. </think> The answer is appendicitis.",
    "Fever, cough and shortness of breath suggest pneumonia. Order a chest X-ray.",
    "患者出现胸痛，向左臂放射。诊断：急性心肌梗死。",
    "Options: (A) (B) (C) (D) Answer with the letter of the correct option.",
    "You are MedAssist, a careful medical assistant for clinicians and medical researchers.",
]


def make_tokenizer(folder: Path, template: str = QWEN_TEMPLATE):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tk.train_from_iterator(CORPUS * 5, trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<|endoftext|>", eos_token="<|im_end|>",
                                  pad_token="<|endoftext|>")
    tok.chat_template = template
    tok.save_pretrained(folder)
    return tok


def make_model(folder: str | Path, *, layers: int = 2, seed: int = 0, template: str = QWEN_TEMPLATE) -> Path:
    """Save a random tiny Qwen2 + tokenizer into folder (a Hugging Face folder)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tok = make_tokenizer(folder, template)
    cfg = Qwen2Config(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=layers,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                      tie_word_embeddings=False, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                      pad_token_id=tok.pad_token_id, initializer_range=0.2)
    torch.manual_seed(seed)
    Qwen2ForCausalLM(cfg).to(torch.float32).save_pretrained(folder)
    return folder
