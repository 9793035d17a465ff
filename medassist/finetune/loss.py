"""The training loss: completion-only next-token cross-entropy, one mean per example.

Every example weighs the same in a step whatever its length (the mean of its learned tokens, then the mean over
the step's examples), so one process with batch size 1 and N processes with padded batches give the same loss
and gradients (tests/test_finetune.py). On a CPU with batch size 1 the loss is taken in slices of the logits
(chunked_loss), the measured memory saving of the shipped recipe.
"""
from __future__ import annotations

LOSS_CHUNK = 256  # positions per slice of logits in chunked_loss


def chunked_loss(model, ids, labels):
    """Mean next-token cross-entropy over the learned positions, without the full logits tensor.

    The model's own loss keeps logits for every position (1,024 x 151,936 vocab: 0.3 GB in bf16, then
    fp32 copies for the softmax and its gradient). Here only the positions whose next token is learned
    are projected, in slices of LOSS_CHUNK, each recomputed in the backward pass instead of kept:
    peak 5.4 vs 6.2 GiB on 1,024-token examples, same speed (benchmarks/train_memory.py). Same value
    as the model's loss (tests/test_finetune.py checks it; a full run matched to 4 decimals)."""
    import torch.nn.functional as F
    from torch.utils.checkpoint import checkpoint

    lm = model.get_base_model()
    hidden = lm.model(input_ids=ids).last_hidden_state[0, :-1]
    target = labels[0, 1:]
    keep = target != -100
    hidden, target = hidden[keep], target[keep]

    def piece(h, y):
        return F.cross_entropy(lm.lm_head(h).float(), y, reduction="sum")

    total = sum(checkpoint(piece, hidden[i:i + LOSS_CHUNK], target[i:i + LOSS_CHUNK], use_reentrant=False)
                for i in range(0, len(target), LOSS_CHUNK))
    return total / max(len(target), 1)


def plain_head(model) -> bool:
    """Logits are just lm_head(hidden): true of Qwen2/Llama; not of models that scale or soft-cap them."""
    lm = model.get_base_model()
    cfg = lm.config
    return (hasattr(lm, "model") and hasattr(lm, "lm_head") and not getattr(cfg, "final_logit_softcapping", None)
            and getattr(cfg, "logit_scale", 1.0) in (None, 1.0))


def learned(ex: dict) -> int:
    """Tokens the example teaches (its labels other than -100, after the shift)."""
    return sum(1 for x in ex["labels"][1:] if x != -100)


def batch_loss(model, examples: list[dict], chunked: bool = False, device=None, pad_id: int = 0):
    """(per-example mean losses as a tensor, learned tokens per example). Several examples are right-padded
    into one forward pass (attention mask; pads are never learned); chunked (one example, a plain head, the
    model not wrapped by a distributed engine) takes the loss in slices instead of the full logits."""
    import torch
    import torch.nn.functional as F

    counts = [learned(ex) for ex in examples]
    if chunked and len(examples) == 1:
        ids, labels = (torch.tensor([examples[0][k]], device=device) for k in ("input_ids", "labels"))
        return chunked_loss(model, ids, labels).reshape(1), counts
    width = max(len(ex["input_ids"]) for ex in examples)
    ids = torch.tensor([ex["input_ids"] + [pad_id] * (width - len(ex["input_ids"])) for ex in examples], device=device)
    labels = torch.tensor([ex["labels"] + [-100] * (width - len(ex["labels"])) for ex in examples], device=device)
    mask = torch.tensor([[1] * len(ex["input_ids"]) + [0] * (width - len(ex["input_ids"])) for ex in examples],
                        device=device)
    logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
    target = labels[:, 1:]
    per_token = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=-100,
                                reduction="none").reshape(target.shape)
    n = (target != -100).sum(dim=1).clamp(min=1)
    return per_token.sum(dim=1) / n, counts


def example_loss(model, ex, chunked: bool = True) -> tuple:
    """One example's mean loss and its learned tokens (the benchmarks' and evaluation's unit)."""
    losses, counts = batch_loss(model, [ex], chunked and plain_head(model))
    return losses[0], counts[0]
