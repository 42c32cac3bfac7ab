"""Capture raw attention scores, or lift the causal mask, inside the model's
own attention computation.

We register one attention function with transformers' ``AttentionInterface``
and the *same name* with ``AttentionMaskInterface`` (mapped to
``eager_mask``). Without the second registration transformers builds no mask
for an unknown implementation, the function receives ``attention_mask=None``,
and "masked" attention is silently unmasked.

Outside a :func:`capturing` block the function computes exactly what eager
attention computes. :func:`install` checks that on the loaded model before
switching to it, and leaves models whose attention it cannot reproduce on
plain eager (their scores and unmasked runs are then unavailable).
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, field

import torch
from torch import nn

NAME = "classroom_eager"


@dataclass
class Recording:
    """What one forward pass recorded, one entry per attention layer in call order."""

    record_scores: bool = False
    lift_mask: bool = False
    scores: list[torch.Tensor] = field(default_factory=list)  # each [batch, head, query, key]
    masks: list[torch.Tensor | None] = field(default_factory=list)  # each [batch, 1, query, key]
    # (layer, head, query) whose attention weights are set to 0 after the softmax: an
    # independent route to a head knockout, for tests (components.knockout zeroes o_proj's input)
    zero_weights: tuple[tuple[int, int, int], ...] = ()


_ACTIVE: contextvars.ContextVar[Recording | None] = contextvars.ContextVar(
    "classroom_recording", default=None
)


def classroom_attention(
    module: nn.Module,
    query: torch.Tensor,  # [batch, head, query, head_dim]
    key: torch.Tensor,  # [batch, kv_head, key, head_dim]
    value: torch.Tensor,  # [batch, kv_head, key, head_dim]
    attention_mask: torch.Tensor | None,  # [batch, 1, query, key], 0 or a large negative
    scaling: float | None = None,
    dropout: float = 0.0,
    softcap: float | None = None,
    **kwargs,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Eager attention that can record its pre-mask scores or drop its mask."""
    if scaling is None:
        scaling = query.size(-1) ** -0.5
    groups = query.shape[1] // key.shape[1]
    if groups > 1:  # grouped-query attention: each key/value head serves `groups` query heads
        key = key.repeat_interleave(groups, dim=1)
        value = value.repeat_interleave(groups, dim=1)
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling
    if softcap is not None:
        scores = torch.tanh(scores / softcap) * softcap
    rec = _ACTIVE.get()
    layer = len(rec.masks) if rec is not None else -1  # this call's layer: one call per layer, in order
    if rec is not None:
        rec.masks.append(None if attention_mask is None else attention_mask.detach())
        if rec.record_scores:
            rec.scores.append(scores.detach().clone())
    if attention_mask is not None and not (rec is not None and rec.lift_mask):
        if attention_mask.dtype == torch.bool:
            scores = scores.masked_fill(~attention_mask, torch.finfo(scores.dtype).min)
        else:
            scores = scores + attention_mask
    weights = nn.functional.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
    if rec is not None and rec.zero_weights:
        weights = weights.clone()
        for at_layer, head, at_query in rec.zero_weights:
            if at_layer == layer:
                weights[:, head, at_query, :] = 0.0
    weights = nn.functional.dropout(weights, p=dropout, training=module.training)
    output = torch.matmul(weights, value).transpose(1, 2).contiguous()
    return output, weights


def register() -> None:
    """Register :data:`NAME` in both interfaces (idempotent)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, eager_mask

    AttentionInterface.register(NAME, classroom_attention)
    AttentionMaskInterface.register(NAME, eager_mask)


@contextlib.contextmanager
def capturing(
    record_scores: bool = False, lift_mask: bool = False, zero_weights: tuple[tuple[int, int, int], ...] = ()
):
    """Record masks (and scores) of the forward passes run inside the block.

    ``zero_weights`` lists ``(layer, head, query)`` cells whose attention
    weights become 0 (every key) in each forward pass inside the block."""
    rec = Recording(record_scores=record_scores, lift_mask=lift_mask, zero_weights=tuple(zero_weights))
    token = _ACTIVE.set(rec)
    try:
        yield rec
    finally:
        _ACTIVE.reset(token)


def install(model, probe_ids: torch.Tensor, atol: float = 1e-6) -> bool:
    """Switch ``model`` from eager to :data:`NAME` if it reproduces eager exactly.

    ``probe_ids  # [1, seq]``. Returns True when installed.
    """
    register()
    with torch.no_grad():
        ref = model(input_ids=probe_ids, output_attentions=True)
        if not ref.attentions:
            return False
        try:
            model.set_attn_implementation(NAME)
            with capturing() as rec:
                ours = model(input_ids=probe_ids, output_attentions=True)
        except Exception:
            model.set_attn_implementation("eager")
            return False
    same = (
        len(ours.attentions) == len(ref.attentions)
        and len(rec.masks) == len(ref.attentions)
        and all(rec_mask is not None for rec_mask in rec.masks)
        and all(torch.allclose(a, b, atol=atol, rtol=0) for a, b in zip(ours.attentions, ref.attentions))
        and torch.allclose(ours.logits, ref.logits, atol=1e-4, rtol=0)
    )
    if not same:
        model.set_attn_implementation("eager")
    return same
