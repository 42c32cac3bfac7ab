"""What one heatmap shows: pure slicing of a cached :class:`Analysis`.

Changing layer, head, units or the sink toggle only calls these functions;
the model never runs again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from components.alignment import aggregate_attention, aggregate_mask, token_label
from components.analysis import Analysis
from components.sampling import TokenProb, log_normalizer, top_tokens

VIEWS = ("token", "morpheme")


@dataclass(frozen=True)
class HeadView:
    """One head's attention as shown: ``weights  # [query, key]``. With
    ``hide_sink`` the first token's row and column are left out (indices
    then start at 1)."""

    layer: int
    head: int
    view: str  # "token" or "morpheme"
    hide_sink: bool
    weights: np.ndarray  # [query, key] float32; NaN where a row has nothing left to attend to
    masked: np.ndarray  # [query, key] bool
    query_labels: tuple[str, ...]
    key_labels: tuple[str, ...]


def drop_first_key(weights: np.ndarray, masked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hide the first key column (the attention sink) and renormalise each row
    over the keys left. ``weights  # [..., query, key]``. A row whose only
    visible key was the first one has nothing left: it becomes NaN."""
    rest = weights[..., 1:].astype(np.float64)
    total = rest.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        renorm = np.where(total > 0, rest / total, np.nan)
    return renorm.astype(np.float32), masked[..., 1:]


def head_view(
    analysis: Analysis,
    layer: int,
    head: int,
    view: str = "token",
    hide_sink: bool = False,
    attentions: np.ndarray | None = None,
    masked: np.ndarray | None = None,
) -> HeadView:
    """Slice one head out of ``attentions  # [layer, head, query, key]``
    (the analysis' own by default), in token or morpheme units."""
    if view not in VIEWS:
        raise ValueError(f"view must be one of {VIEWS}, got {view!r}")
    if not (0 <= layer < analysis.n_layers and 0 <= head < analysis.n_heads):
        raise IndexError(f"layer {layer}, head {head} is outside {analysis.n_layers} x {analysis.n_heads}")
    source = analysis.attentions if attentions is None else attentions
    mask = analysis.masked[layer] if masked is None else masked
    if view == "morpheme":
        weights = (
            analysis.unit_attentions[layer, head]
            if attentions is None
            else aggregate_attention(source[layer, head], analysis.units)
        )
        mask = aggregate_mask(mask, analysis.units)
        labels = tuple(analysis.unit_labels)
    else:
        weights = source[layer, head]
        labels = tuple(analysis.token_labels)
    query_labels, key_labels = labels, labels
    if hide_sink and len(labels) > 1:
        weights, mask = drop_first_key(weights, mask)
        # the first token could only look at itself: with that column gone its
        # row has nothing left to show, so it goes too (it is not masked)
        weights, mask = weights[1:], mask[1:]
        query_labels = key_labels = labels[1:]
    return HeadView(layer, head, view, hide_sink, np.asarray(weights), np.asarray(mask), query_labels, key_labels)


def shorten_left(text: str, limit: int = 16) -> str:
    """The end of a long text, for a chart title: what was read last matters."""
    return text if len(text) <= limit else "…" + text[-limit:]


def prefix_text(analysis: Analysis, position: int) -> str:
    """The text read up to and including ``position``. A byte piece that ends
    in the middle of a character is shown by its label (𠮷₂), never as a
    repeated or broken character."""
    token = analysis.tokens[position]
    ends = [t.end for t in analysis.tokens[: position + 1] if not t.special]
    if not ends:
        return ""
    if token.parts > 1 and token.part < token.parts:
        return analysis.text[: token.start] + token_label(token)
    return analysis.text[: max(ends)]


@dataclass(frozen=True)
class MaskStages:
    """The three stages of one head's causal attention, ``[query, key]`` each."""

    layer: int
    head: int
    scores: np.ndarray  # raw q.k * scale, before the mask
    masked: np.ndarray  # bool: the cells the mask sets to -inf
    weights: np.ndarray  # softmax of the masked scores: the attention the model uses
    labels: tuple[str, ...]


def mask_stages(analysis: Analysis, layer: int, head: int) -> MaskStages:
    """Raw scores -> masked scores -> softmax weights for one head (token units)."""
    if analysis.scores is None:
        raise ValueError("this analysis has no raw scores: run it with scores=True")
    return MaskStages(
        layer=layer,
        head=head,
        scores=analysis.scores[layer, head],
        masked=analysis.masked[layer],
        weights=analysis.attentions[layer, head],
        labels=tuple(analysis.token_labels),
    )


@dataclass(frozen=True)
class PositionShift:
    """What lifting the mask does to the prediction after one position."""

    position: int
    prefix: str  # the text read up to and including this position
    masked_top: TokenProb
    unmasked_top: TokenProb
    moved: float  # total variation distance between the two distributions (0..1)


def prediction_shifts(analysis: Analysis, temperature: float = 1.0) -> tuple[PositionShift, ...]:
    """For every position, the top next token with and without the causal
    mask, and how much probability moved (exact at temperature 1)."""
    if analysis.unmasked_next_logits is None or analysis.unmasked_shift is None:
        raise ValueError("this analysis has no unmasked run: run it with unmasked=True")
    shifts = []
    for pos in range(analysis.n_tokens):
        (with_mask,) = top_tokens(analysis.next_logits, pos, analysis.labels, temperature, 1)
        (without,) = top_tokens(analysis.unmasked_next_logits, pos, analysis.labels, temperature, 1)
        prefix = prefix_text(analysis, pos)
        shifts.append(PositionShift(pos, prefix, with_mask, without, float(analysis.unmasked_shift[pos])))
    return tuple(shifts)


def last_word_position(analysis: Analysis) -> int:
    """The position just before the last morpheme: where the model predicts
    the sentence's last word from the words before it (鳥が in 鳥がナク)."""
    starts = [min(m.tokens) for m in analysis.morphemes if m.tokens]
    if not starts:
        return max(analysis.n_tokens - 2, 0)
    return max(starts[-1] - 1, 0)


#: below this much moved probability (total variation), lifting the mask "barely" changed a prediction
BARELY_MOVED = 0.02


def peek_message(text: str, shift: PositionShift) -> tuple[str, dict[str, str]]:
    """What lifting the mask did to one prediction of ``text``, as an i18n key
    and its parameters, chosen so that the words agree with the numbers: the
    top candidate changed, stayed while probability moved, or barely moved;
    or the position ends the sentence and has no hidden future."""
    prefix = shift.prefix or "<bos>"
    future = text[len(shift.prefix):] if text.startswith(shift.prefix) else ""
    if not future:
        key = "peek_last" if shift.moved >= BARELY_MOVED else "peek_last_barely"
        return key, {"prefix": prefix, "moved": f"{shift.moved:.2f}"}
    params = {"prefix": prefix, "future": future, "masked": shift.masked_top.text,
              "unmasked": shift.unmasked_top.text, "moved": f"{shift.moved:.2f}"}
    if shift.masked_top.text != shift.unmasked_top.text:
        return "peek_explanation", params
    return ("peek_barely" if shift.moved < BARELY_MOVED else "peek_explanation_same"), params


@dataclass(frozen=True)
class PinnedProb:
    """A pinned word's next-token probability and its rank in the whole vocabulary."""

    token: TokenProb
    rank: int  # 1 = the most likely token


def pinned_at(analysis: Analysis, pinned, position: int, temperature: float = 1.0) -> tuple[PinnedProb, ...]:
    """The pinned tokens (a :class:`components.analysis.PinnedTokens` of the
    same sentence) after ``position``, re-scored at ``temperature`` from the
    analysis' normaliser; the rank does not depend on the temperature."""
    log_z = log_normalizer(analysis.next_logits, temperature)[position]
    probs = np.exp(pinned.logits[position].astype(np.float64) / temperature - log_z)  # [pinned]
    return tuple(
        PinnedProb(TokenProb(i, label, float(p)), int(rank))
        for i, label, p, rank in zip(pinned.ids, pinned.labels, probs, pinned.ranks[position])
    )
