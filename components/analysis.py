"""Run a sentence through a model -> :class:`Analysis`.

The model runs through :mod:`components.inference` (one turn at a time);
this module turns the outputs into float32 numpy inside that turn, so an
:class:`Analysis` holds no torch tensor. Axis order everywhere:
``[layer, head, query, key]``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Mapping, Sequence

import numpy as np

from components import capture
from components.inference import AnalysisError, forward, model_turn
from components.alignment import (
    Token,
    Unit,
    aggregate_attention,
    align_morphemes,
    build_tokens,
    build_units,
    piece_label,
    token_label,
)
from components.models import LoadedModel
from components.morphemes import Morpheme, split_morphemes
from components.sampling import TAIL_BINS, TOP_M, NextTokenLogits

#: Longest input, in model tokens (``<bos>`` included). At 64 tokens the
#: all-heads overview of Gemma is 18 x 4 x 64 x 64 = 295k cells, which a
#: browser still draws in about a second.
MAX_TOKENS = 64

#: how many candidates per position get a readable label (the UI's top-k limit)
LABELLED_TOP = 50

#: rows of logits summarised together (8 x 262k floats = 8 MB stays in cache)
_CHUNK_ROWS = 8


@dataclass(frozen=True)
class Analysis:
    """Everything the app shows about one sentence on one model."""

    model_id: str
    text: str
    tokens: tuple[Token, ...]
    morphemes: tuple[Morpheme, ...]
    units: tuple[Unit, ...]  # rows/columns of the morpheme view
    attentions: np.ndarray  # [layer, head, query, key] float32
    masked: np.ndarray  # [layer, query, key] bool: True where the causal mask hides the key
    unit_attentions: np.ndarray  # [layer, head, query_unit, key_unit] float32
    next_logits: NextTokenLogits  # distribution of the token after each position
    labels: Mapping[int, str]  # readable text of the token ids in the top lists
    scores: np.ndarray | None = None  # [layer, head, query, key] raw q.k*scale, before the mask
    unmasked_attentions: np.ndarray | None = None  # [layer, head, query, key]
    unmasked_next_logits: NextTokenLogits | None = None
    unmasked_shift: np.ndarray | None = None  # [position] total variation between the two next-token distributions

    @property
    def n_layers(self) -> int:
        return int(self.attentions.shape[0])

    @property
    def n_heads(self) -> int:
        return int(self.attentions.shape[1])

    @property
    def n_tokens(self) -> int:
        return len(self.tokens)

    @property
    def token_labels(self) -> list[str]:
        return [token_label(t) for t in self.tokens]

    @property
    def unit_labels(self) -> list[str]:
        return [u.label for u in self.units]


@dataclass(frozen=True)
class SentenceScore:
    """Log-probability of a whole sentence under a model."""

    text: str
    logprob: float  # natural log; sum over every token after the first
    tokens: tuple[str, ...]


@dataclass(frozen=True)
class ForwardPass:
    """Raw results of one forward pass, already numpy."""

    attentions: np.ndarray  # [layer, head, query, key] float32
    masked: np.ndarray  # [layer, query, key] bool
    scores: np.ndarray | None  # [layer, head, query, key] float32
    next_logits: NextTokenLogits
    logits: object = None  # torch [position, vocab] float32, only when asked for; never cached


# ------------------------------------------------------------------ inputs


def check_text(text: str) -> str:
    """The text to analyse, or :class:`AnalysisError` if there is nothing to read.

    Lone UTF-16 surrogates (which a browser paste can produce) stand for no
    character and cannot be encoded for any tokenizer: they are dropped, the
    one change ever made to what was typed.
    """
    if isinstance(text, str) and any("\ud800" <= c <= "\udfff" for c in text):
        text = "".join(c for c in text if not "\ud800" <= c <= "\udfff")
    if not isinstance(text, str) or not text.strip():
        raise AnalysisError("empty", "The sentence is empty: type a sentence such as 鳥がナク.")
    return text


def tokenize(loaded: LoadedModel, text: str, max_tokens: int = MAX_TOKENS) -> tuple[Token, ...]:
    """Tokens of ``text`` with the model's own special tokens and character offsets."""
    enc = loaded.tokenizer(text, return_offsets_mapping=True, add_special_tokens=True)
    ids = list(enc["input_ids"])
    if not ids:
        raise AnalysisError(
            "no_tokens", "The tokenizer produced no tokens for this text: type a sentence with letters or kana in it."
        )
    if len(ids) > max_tokens:
        raise AnalysisError(
            "too_long",
            f"The sentence is {len(ids)} tokens long; the limit is {max_tokens}. Shorten it.",
            n=len(ids),
            limit=max_tokens,
        )
    pieces = loaded.tokenizer.convert_ids_to_tokens(ids)
    return build_tokens(text, ids, [tuple(o) for o in enc["offset_mapping"]], pieces, loaded.special_ids)


def first_tokens_text(loaded: LoadedModel, text: str, max_tokens: int = MAX_TOKENS) -> str:
    """The longest beginning of ``text`` that fits in ``max_tokens`` tokens
    (special tokens included), cut at a token boundary: what a pasted
    paragraph becomes when the class agrees to read only its start."""
    tokens = tokenize(loaded, check_text(text), max_tokens=10**9)
    if len(tokens) <= max_tokens:
        return text
    end = max(t.end for t in tokens[:max_tokens] if not t.special)
    while end > 0 and len(tokenize(loaded, text[:end], max_tokens=10**9)) > max_tokens:
        end -= 1  # a merge across the cut can make the shorter text longer in tokens
    return text[:end]


def label_ids(loaded: LoadedModel, ids: Iterable[int]) -> dict[int, str]:
    """Readable text for vocabulary ids (byte pieces never become �)."""
    unique = sorted(set(int(i) for i in ids))
    pieces = loaded.tokenizer.convert_ids_to_tokens(unique)
    return {
        i: piece_label(str(p), loaded.tokenizer.decode([i], skip_special_tokens=False))
        for i, p in zip(unique, pieces)
    }


# ------------------------------------------------------------------- model


def summarize_logits(logits) -> NextTokenLogits:
    """``logits  # [position, vocab]`` torch float32 -> exact top-m + tail histogram.

    Runs once per analysis over Gemma's 262k vocabulary, so it must stay a
    small fraction of the forward pass: rows are processed in chunks that
    stay in cache across the three passes (top-k, log-sum-exp, histogram).
    """
    import torch

    positions, vocab = logits.shape
    m = min(TOP_M, vocab)
    bins = TAIL_BINS
    top_ids = torch.empty((positions, m), dtype=torch.long)
    top_logits = torch.empty((positions, m), dtype=torch.float32)
    log_z = torch.empty(positions, dtype=torch.float64)
    counts = torch.zeros((positions, bins), dtype=torch.float32)
    centers = torch.zeros((positions, bins), dtype=torch.float64)
    for first in range(0, positions, _CHUNK_ROWS):
        rows = slice(first, min(first + _CHUNK_ROWS, positions))
        chunk = logits[rows]
        top = torch.topk(chunk, m, dim=-1, sorted=True)
        top_ids[rows], top_logits[rows] = top.indices, top.values
        log_z[rows] = torch.logsumexp(chunk, dim=-1).double()
        if vocab == m:
            continue
        lo, hi = chunk.amin(dim=-1).tolist(), top.values[:, -1].tolist()
        for i, (a, b) in enumerate(zip(lo, hi)):
            b = max(b, a + 1e-6)  # all tail logits equal: one bin holds them all
            counts[first + i] = torch.histc(chunk[i], bins=bins, min=a, max=b)
            centers[first + i] = torch.linspace(a, b, bins + 1, dtype=torch.float64)[:-1] + (b - a) / (2 * bins)
        # histc counts values equal to its max, so the m-th top logit (and its
        # equals inside the top) sit in the last bin once too many
        counts[rows, -1] -= (top.values == top.values[:, -1:]).sum(dim=-1).float()
    return NextTokenLogits(
        top_ids=top_ids.numpy(),
        top_logits=top_logits.numpy(),
        tail_logits=centers.numpy(),
        tail_counts=counts.numpy().round().astype(np.int64),
        log_z=log_z.numpy(),
    )


def _masks_to_numpy(masks: Sequence, n_layers: int, n: int) -> np.ndarray:
    out = np.zeros((n_layers, n, n), dtype=bool)
    for layer, mask in enumerate(masks[:n_layers]):
        if mask is None:
            continue
        m = mask[0, 0, :, -n:]
        if m.dtype.is_floating_point:
            import torch

            out[layer] = (m <= torch.finfo(m.dtype).min / 2).numpy()
        else:
            out[layer] = (~m).numpy()
    return out


def run_forward(loaded: LoadedModel, ids: Sequence[int], record_scores: bool = False, lift_mask: bool = False) -> ForwardPass:
    """One forward pass over ``ids`` with attentions, optionally recording raw
    scores or with the causal mask removed from every layer."""
    with model_turn():
        return _forward(loaded, ids, record_scores, lift_mask, keep_logits=False)


def _forward(loaded: LoadedModel, ids: Sequence[int], record_scores: bool, lift_mask: bool, keep_logits: bool) -> ForwardPass:
    """:func:`run_forward` for a caller inside :func:`model_turn`. Everything
    big (the ``[position, vocab]`` logits, kept with ``keep_logits``) must
    die inside the turn, so students waiting their turn hold no memory."""
    import torch

    if (record_scores or lift_mask) and not loaded.capture_ok:
        raise AnalysisError(
            "no_capture",
            f"'{loaded.model_id}' uses an attention variant this tool cannot reproduce, so raw scores and "
            "unmasked runs are unavailable for it: choose the bundled Gemma (or another eager model) for those views.",
        )
    with capture.capturing(record_scores, lift_mask) as rec:
        out = forward(loaded, list(ids), attentions=True)
    if not out.attentions:
        raise AnalysisError(
            "no_attentions", "attentions are empty: load the model with attn_implementation='eager'."
        )
    attentions = torch.stack([a[0] for a in out.attentions]).float().numpy()  # [layer, head, query, key]
    n_layers, n = attentions.shape[0], attentions.shape[-1]
    if loaded.capture_ok and not lift_mask:
        masked = _masks_to_numpy(rec.masks, n_layers, n)
    elif lift_mask:
        masked = np.zeros((n_layers, n, n), dtype=bool)
    else:  # plain eager: the causal triangle
        masked = np.broadcast_to(np.triu(np.ones((n, n), dtype=bool), k=1), (n_layers, n, n)).copy()
    scores = None
    if record_scores:
        scores = torch.stack([s[0] for s in rec.scores[:n_layers]]).float().numpy()
    logits = out.logits[0].float()
    return ForwardPass(
        attentions=np.ascontiguousarray(attentions, dtype=np.float32),
        masked=masked,
        scores=scores,
        next_logits=summarize_logits(logits),
        logits=logits if keep_logits else None,
    )


def total_variation_rows(a, b) -> np.ndarray:
    """Half the L1 distance between softmax(a) and softmax(b), row by row.
    ``a, b  # [position, vocab]`` torch -> ``[position]``; chunked so that
    the float64 temporaries stay small."""
    import torch

    out = []
    for first in range(0, a.shape[0], _CHUNK_ROWS):
        rows = slice(first, first + _CHUNK_ROWS)
        p = torch.softmax(a[rows].double(), dim=-1)
        q = torch.softmax(b[rows].double(), dim=-1)
        out.append(0.5 * (p - q).abs().sum(dim=-1))
    return torch.cat(out).numpy()


def run_analysis(
    loaded: LoadedModel,
    text: str,
    scores: bool = False,
    unmasked: bool = False,
    max_tokens: int = MAX_TOKENS,
    labelled_top: int = LABELLED_TOP,
) -> Analysis:
    """Analyse ``text``: tokens, morphemes, attentions, next-token logits.

    ``scores`` adds the raw pre-mask scores; ``unmasked`` adds a second run
    with the causal mask lifted in every layer. ``labelled_top`` candidates
    per position get readable text (up to the kept top-m).
    """
    text = check_text(text)
    tokens = tokenize(loaded, text, max_tokens)
    morphemes = align_morphemes(split_morphemes(text), tokens)
    units = build_units(tokens, morphemes)
    ids = [t.id for t in tokens]
    with model_turn():  # one turn for both runs: no half-done analysis holds its logits while waiting
        main = _forward(loaded, ids, scores, False, unmasked)
        lifted = _forward(loaded, ids, False, True, True) if unmasked else None
        shift = None
        if lifted is not None:
            # exact, over the whole vocabulary: how much probability the mask moved
            shift = total_variation_rows(main.logits, lifted.logits)
        main, lifted = (replace(f, logits=None) if f is not None else None for f in (main, lifted))
    shown = [main.next_logits.top_ids[:, :labelled_top]]
    if lifted is not None:
        shown.append(lifted.next_logits.top_ids[:, :labelled_top])
    return Analysis(
        model_id=loaded.model_id,
        text=text,
        tokens=tokens,
        morphemes=morphemes,
        units=units,
        attentions=main.attentions,
        masked=main.masked,
        unit_attentions=aggregate_attention(main.attentions, units),
        next_logits=main.next_logits,
        labels=label_ids(loaded, np.concatenate([s.ravel() for s in shown])),
        scores=main.scores,
        unmasked_attentions=None if lifted is None else lifted.attentions,
        unmasked_next_logits=None if lifted is None else lifted.next_logits,
        unmasked_shift=shift,
    )


def score_sentences(loaded: LoadedModel, texts: Sequence[str], max_tokens: int = MAX_TOKENS) -> tuple[SentenceScore, ...]:
    """Sum of log p(token | tokens before it) over every token after the first.

    Sentences are tokenized exactly as :func:`run_analysis` does them, with
    the model's special tokens (for Gemma, a leading ``<bos>``).
    """
    import torch

    results = []
    for text in texts:
        tokens = tokenize(loaded, check_text(text), max_tokens)
        ids = torch.tensor([t.id for t in tokens], dtype=torch.long)
        with model_turn():
            logits = forward(loaded, ids).logits[0].double()
            logp = float(torch.log_softmax(logits[:-1], dim=-1).gather(1, ids[1:].unsqueeze(1)).sum())
        results.append(SentenceScore(text, logp, tuple(token_label(t) for t in tokens)))
    return tuple(results)


@dataclass(frozen=True)
class PinnedTokens:
    """Chosen vocabulary tokens followed at every position of a sentence,
    whatever their rank (鳴 and 泣 after 赤ちゃんが, say)."""

    ids: tuple[int, ...]
    labels: tuple[str, ...]
    logits: np.ndarray  # [position, pinned] float32: raw logits, re-scored at any temperature
    ranks: np.ndarray  # [position, pinned] int64: 1 = the most likely token of the whole vocabulary


def first_token_ids(loaded: LoadedModel, words: Iterable[str]) -> tuple[int, ...]:
    """The first model token of each word (鳴く -> 鳴), without repeats: the
    token whose probability says whether the model expects that word."""
    out: list[int] = []
    for word in words:
        ids = loaded.tokenizer(word, add_special_tokens=False)["input_ids"]
        if ids and int(ids[0]) not in out:
            out.append(int(ids[0]))
    return tuple(out)


def run_pinned(loaded: LoadedModel, text: str, ids: Sequence[int], max_tokens: int = MAX_TOKENS) -> PinnedTokens:
    """The logit and the rank of each token in ``ids`` after every position of
    ``text`` (tokenized as :func:`run_analysis` does it). Ranks count the
    whole vocabulary, so a word the top-k list leaves out still shows where
    it stands."""
    import torch

    tokens = tokenize(loaded, check_text(text), max_tokens)
    ids = [int(i) for i in ids]
    with model_turn():
        logits = forward(loaded, [t.id for t in tokens]).logits[0].float()  # [position, vocab]
        chosen = logits[:, ids] if ids else logits[:, :0]  # [position, pinned]
        # one pinned token at a time keeps the comparison [position, vocab], not [position, pinned, vocab]
        ranks = torch.stack([(logits > chosen[:, j:j + 1]).sum(-1) + 1 for j in range(len(ids))], dim=-1) \
            if ids else torch.zeros((logits.shape[0], 0), dtype=torch.long)
        chosen, ranks = chosen.numpy().astype(np.float32), ranks.numpy().astype(np.int64)
    labels = label_ids(loaded, ids)
    return PinnedTokens(tuple(ids), tuple(labels[i] for i in ids), chosen, ranks)
