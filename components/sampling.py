"""Next-token distributions: temperature, top-k and top-p, from cached logits.

An analysis keeps, for every position, the exact top-``m`` logits and a
histogram of the other ~262k (the "tail"). That is enough to re-score the
distribution at any temperature without running the model again:

    p_T(i) = exp(l_i / T) / Z(T),   Z(T) = sum_top exp(l/T) + sum_bins n_b exp(centre_b / T)

At T = 1 the exact normaliser (computed from all logits) is used, so the
numbers equal a plain softmax. Elsewhere the tail term is approximated per
bin; tests bound the error against the exact softmax.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

#: the exact logits kept per position
TOP_M = 256
#: histogram bins for the rest of the vocabulary
TAIL_BINS = 1024


@dataclass(frozen=True)
class NextTokenLogits:
    """Compressed logits of the token that follows each position."""

    top_ids: np.ndarray  # [position, m] int64, by descending logit
    top_logits: np.ndarray  # [position, m] float32
    tail_logits: np.ndarray  # [position, bin] float64: centre logit of each tail bin
    tail_counts: np.ndarray  # [position, bin] int64: how many tail tokens fell in the bin
    log_z: np.ndarray  # [position] float64: exact log-sum-exp of all logits at T = 1

    @property
    def n_positions(self) -> int:
        return int(self.top_ids.shape[0])


@dataclass(frozen=True)
class TokenProb:
    """One candidate next token."""

    id: int
    text: str
    prob: float  # probability at the chosen temperature, over the whole vocabulary


def _logsumexp(x: np.ndarray, axis: int = -1) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return np.squeeze(m, axis=axis) + np.log(np.sum(np.exp(x - m), axis=axis))


def log_normalizer(logits: NextTokenLogits, temperature: float) -> np.ndarray:
    """log Z(T) for every position  # [position]"""
    check_temperature(temperature)
    if temperature == 1.0:
        return logits.log_z.astype(np.float64)
    top = logits.top_logits.astype(np.float64) / temperature
    with np.errstate(divide="ignore"):
        tail = logits.tail_logits / temperature + np.log(logits.tail_counts)
    tail = np.where(logits.tail_counts > 0, tail, -np.inf)
    return _logsumexp(np.concatenate([top, tail], axis=1), axis=1)


def check_temperature(temperature: float) -> None:
    if not (temperature > 0 and np.isfinite(temperature)):
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")


def top_probs(logits: NextTokenLogits, temperature: float = 1.0) -> np.ndarray:
    """Probabilities of the kept top-m tokens  # [position, m]"""
    log_z = log_normalizer(logits, temperature)
    return np.exp(logits.top_logits.astype(np.float64) / temperature - log_z[:, None])


def top_tokens(
    logits: NextTokenLogits,
    position: int,
    labels: Mapping[int, str],
    temperature: float = 1.0,
    k: int = 10,
) -> tuple[TokenProb, ...]:
    """The ``k`` most likely next tokens after ``position``, most likely first."""
    if not 0 <= position < logits.n_positions:
        raise IndexError(f"position {position} is outside 0..{logits.n_positions - 1}")
    k = max(1, min(int(k), logits.top_ids.shape[1]))
    probs = top_probs(logits, temperature)[position, :k]
    ids = logits.top_ids[position, :k]
    return tuple(TokenProb(int(i), labels.get(int(i), f"#{int(i)}"), float(p)) for i, p in zip(ids, probs))


# ----------------------------------------------------- full-vocabulary helpers


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """``logits  # [..., vocab]`` -> probabilities at ``temperature`` (float64)."""
    check_temperature(temperature)
    z = logits.astype(np.float64) / temperature
    z = z - np.max(z, axis=-1, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=-1, keepdims=True)


def filter_top_k_top_p(probs: np.ndarray, top_k: int | None = None, top_p: float | None = None) -> np.ndarray:
    """Zero all but the top-k tokens and the smallest nucleus of mass >= top_p,
    then renormalise. ``probs  # [vocab]``. Ties at the cut are broken by id."""
    out = probs.astype(np.float64).copy()
    order = np.argsort(-out, kind="stable")
    keep = np.ones_like(out, dtype=bool)
    if top_k is not None and top_k > 0:
        keep[order[top_k:]] = False
    if top_p is not None and 0 < top_p < 1:
        cumulative = np.cumsum(out[order])
        # keep every token up to and including the one that crosses top_p
        cut = int(np.searchsorted(cumulative, top_p, side="left")) + 1
        keep[order[cut:]] = False
    out[~keep] = 0.0
    return out / out.sum()


def sample(probs: np.ndarray, rng: np.random.Generator) -> int:
    """Draw one token id from ``probs  # [vocab]``."""
    return int(rng.choice(probs.shape[0], p=probs))
