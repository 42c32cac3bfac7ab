"""The logit lens: what each layer would predict if the model stopped there.

Row 0 is the embedding (the residual stream entering the first layer,
embedding scale and position embeddings included); row ``l`` is the residual
stream after ``l`` layers, i.e. the output of the layer the rest of the app
(explorer, knockouts) calls ``l - 1``, since it counts layers from 0. Every row goes through the model's *own* final norm and
unembedding, so the last row is the model's real next-token distribution.
Columns are positions: column ``p`` reads the prediction of the token after
token ``p`` (``<bos>`` is position 0).

The residuals are read with forward hooks on the real model's decoder
layers, never by re-implementing them. HF's ``output_hidden_states`` is not
used: its last entry is already through the final norm (transformers
overwrites it with ``last_hidden_state``), and norming it again would be
wrong.

Gemma's 262k vocabulary makes a full ``[row, position, vocab]`` array about
400 MB for 20 tokens, so logits are made a few cells at a time and only the
top-k and the tracked tokens are kept.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from components.alignment import Token
from components.analysis import MAX_TOKENS, check_text, label_ids, tokenize
from components.inference import AnalysisError, forward, model_turn
from components.models import LoadedModel

#: candidates kept per cell (the page's hover shows five)
LENS_TOP_K = 5
#: cells unembedded together: 64 x 262k float32 = 67 MB at a time. Each
#: chunk reads the whole 671 MB unembedding, so fewer, larger chunks are
#: faster (measured on Gemma: 400 cells in 4.9 s at 32, 4.0 s at 64, 3.4 s at 128, one thread)
_CELL_CHUNK = 64
#: how far the lens's last row may be from the model's own logits before we
#: say the lens does not reproduce this model (float32 noise is ~1e-5)
_REPRODUCE_ATOL = 1e-3

# attribute names used by the architectures transformers ships, most common first
_LAYER_NAMES = ("layers", "h", "blocks", "block")
_NORM_NAMES = ("norm", "ln_f", "final_layernorm", "final_layer_norm", "final_norm")
_ATTENTION_NAMES = ("self_attn", "attn", "attention", "self_attention")
_OUT_PROJ_NAMES = ("o_proj", "c_proj", "out_proj", "dense")
_MLP_NAMES = ("mlp", "feed_forward", "ffn")


@dataclass(frozen=True)
class ModelParts:
    """The modules of a decoder-only model that the lens and knockouts hook.

    Found by name on the real model; nothing is copied."""

    layers: tuple  # decoder layers, in order (torch modules)
    final_norm: object  # the norm applied to the last residual before the unembedding
    unembed: object  # model.get_output_embeddings() (tied to the embedding for Gemma)
    softcap: float | None  # final logit soft-capping (Gemma 2), applied as the model does
    attentions: tuple | None  # per layer: the attention module, or None if not found
    out_projs: tuple | None  # per layer: the attention output projection (input [.., head * head_dim])
    mlps: tuple | None  # per layer: the MLP module
    n_heads: int
    head_dim: int


def _first_attr(module, names: Sequence[str]):
    for name in names:
        child = getattr(module, name, None)
        if child is not None:
            return child
    return None


def find_parts(loaded: LoadedModel) -> ModelParts:
    """The decoder layers, final norm and unembedding of ``loaded``'s model.

    Raises :class:`AnalysisError` (code ``lens_unavailable``) when the model
    has no such structure, which is when a logit lens means nothing."""
    import torch

    model = loaded.model
    base = getattr(model, "base_model", None)
    if base is None or base is model:
        base = _first_attr(model, ("model", "transformer"))
    decoder = _first_attr(base, ("decoder",)) if base is not None else None
    base = decoder if decoder is not None else base  # OPT keeps its layers one level down
    layers = _first_attr(base, _LAYER_NAMES) if base is not None else None
    norm = _first_attr(base, _NORM_NAMES) if base is not None else None
    unembed = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    missing = [
        what
        for what, found in (
            ("decoder layers", isinstance(layers, torch.nn.ModuleList) and len(layers) > 0),
            ("final norm", isinstance(norm, torch.nn.Module)),
            ("unembedding (output embeddings)", isinstance(unembed, torch.nn.Module)),
        )
        if not found
    ]
    if missing:
        raise AnalysisError(
            "lens_unavailable",
            f"A logit lens is not meaningful for '{loaded.model_id}': no {', no '.join(missing)} found, so "
            "its intermediate layers cannot be read through its own output head. Choose the bundled Gemma, "
            "GPT-2 or another decoder-only model with a final norm.",
            model=loaded.model_id,
        )
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    softcap = getattr(config, "final_logit_softcapping", None)
    attentions = tuple(_first_attr(layer, _ATTENTION_NAMES) for layer in layers)
    out_projs = tuple(_first_attr(a, _OUT_PROJ_NAMES) if a is not None else None for a in attentions)
    mlps = tuple(_first_attr(layer, _MLP_NAMES) for layer in layers)
    n_heads = int(loaded.n_heads)
    in_features = _in_features(out_projs[0]) if out_projs[0] is not None else 0
    return ModelParts(
        layers=tuple(layers),
        final_norm=norm,
        unembed=unembed,
        softcap=float(softcap) if softcap else None,
        attentions=attentions if all(a is not None for a in attentions) else None,
        out_projs=out_projs if all(o is not None for o in out_projs) else None,
        mlps=mlps if all(m is not None for m in mlps) else None,
        n_heads=n_heads,
        head_dim=in_features // n_heads if n_heads and in_features % n_heads == 0 else 0,
    )


def _in_features(proj) -> int:
    """Input width of a projection: ``nn.Linear`` or GPT-2's ``Conv1D`` (weight ``[in, out]``)."""
    if hasattr(proj, "in_features"):
        return int(proj.in_features)
    if hasattr(proj, "nx"):
        return int(proj.nx)
    return 0


def unembed(parts: ModelParts, normed):
    """``normed  # [cell, d_model]`` (already through the final norm) ->
    logits ``[cell, vocab]`` float32, through the model's own head."""
    import torch

    logits = parts.unembed(normed).float()
    if parts.softcap:
        logits = torch.tanh(logits / parts.softcap) * parts.softcap
    return logits


def supports_logits_to_keep(loaded: LoadedModel) -> bool:
    """Whether the model can skip the unembedding of all but the last positions."""
    return "logits_to_keep" in inspect.signature(loaded.model.forward).parameters


# ------------------------------------------------------------- token lookup


@dataclass(frozen=True)
class TargetToken:
    """A word typed as a target, and the one token that stands for it."""

    text: str  # as typed
    id: int  # the vocabulary id counted: the first token of ``text``
    label: str  # readable text of that token (byte pieces as characters, never �)
    n_tokens: int  # how many tokens ``text`` is; > 1 means only the first is counted

    @property
    def is_partial(self) -> bool:
        return self.n_tokens > 1


def resolve_token(loaded: LoadedModel, target: str | int) -> TargetToken:
    """The token counted for ``target``: a text (its first token, without
    special tokens; type a leading space for English words such as
    ``" drink"``, or ␣ as the app shows spaces: ``"␣drink"``) or a vocabulary id."""
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        tid = int(target)
        if not 0 <= tid < loaded.vocab_size:
            raise AnalysisError(
                "bad_target", f"Token id {tid} is outside the vocabulary (0 to {loaded.vocab_size - 1}).", target=str(tid)
            )
        return TargetToken(text=str(tid), id=tid, label=label_ids(loaded, [tid])[tid], n_tokens=1)
    if not isinstance(target, str) or not target:
        raise AnalysisError("empty_target", "The target word is empty: type the word to follow, such as 鳴.")
    ids = list(loaded.tokenizer(target.replace("␣", " "), add_special_tokens=False)["input_ids"])
    if not ids:
        raise AnalysisError(
            "empty_target", f"'{target}' makes no token for this model: type a word with letters or kana.", target=target
        )
    tid = int(ids[0])
    if tid >= loaded.vocab_size:
        raise AnalysisError("bad_target", f"'{target}' maps outside the model's vocabulary.", target=target)
    return TargetToken(text=target, id=tid, label=label_ids(loaded, [tid])[tid], n_tokens=len(ids))


# ------------------------------------------------------------------- lens


@dataclass(frozen=True)
class LogitLens:
    """What each layer predicts at each position, through the model's own head.

    Rows: 0 = embedding, ``l`` = after ``l`` layers (``n_layers + 1`` rows);
    the last row is the model's output. Row ``l`` is the output of the layer
    the explorer and the knockouts index ``l - 1`` (they count layers from 0).
    Columns: the token positions in ``positions`` (``<bos>`` = 0), each
    predicting the token after it. Probabilities are at temperature 1 over
    the whole vocabulary."""

    model_id: str
    text: str
    tokens: tuple[Token, ...]  # the whole sentence, even if only some positions were read
    positions: tuple[int, ...]  # [column] -> token position
    top_ids: np.ndarray  # [row, column, k] int64, most probable first
    top_probs: np.ndarray  # [row, column, k] float32
    tracked_ids: tuple[int, ...]  # [tracked] pinned vocabulary ids
    tracked_probs: np.ndarray  # [row, column, tracked] float32
    tracked_ranks: np.ndarray  # [row, column, tracked] int64: 1 = most probable of the whole vocabulary
    labels: Mapping[int, str]  # readable text of every id in top_ids and tracked_ids

    @property
    def n_rows(self) -> int:
        return int(self.top_ids.shape[0])

    @property
    def n_layers(self) -> int:
        return self.n_rows - 1

    def column(self, position: int) -> int:
        """The column that holds token position ``position``."""
        try:
            return self.positions.index(position)
        except ValueError:
            raise AnalysisError(
                "bad_position", f"Position {position} was not read by this lens (read: {list(self.positions)}).",
                position=position,
            ) from None

    def top_labels(self) -> np.ndarray:
        """``[row, column]`` readable text of each cell's most probable token."""
        out = np.empty(self.top_ids.shape[:2], dtype=object)
        for idx in np.ndindex(*out.shape):
            out[idx] = self.labels[int(self.top_ids[idx + (0,)])]
        return out


def check_position(position: int | None, n_tokens: int) -> int:
    """``position`` (``None`` = the last) checked against a sentence of ``n_tokens``."""
    if position is None:
        return n_tokens - 1
    if isinstance(position, bool) or not isinstance(position, (int, np.integer)) or not 0 <= position < n_tokens:
        raise AnalysisError(
            "bad_position",
            f"Position {position} is outside the sentence: positions count tokens from <bos> = 0 "
            f"to {n_tokens - 1}.",
            position=str(position), last=n_tokens - 1,
        )
    return int(position)


def _check_reproduces(loaded: LoadedModel, lens_logits, real) -> None:
    """The lens is only the model's own head if its last row is the model's output."""
    gap = float((lens_logits - real).abs().max())
    if not gap <= _REPRODUCE_ATOL:
        raise AnalysisError(
            "lens_unavailable",
            f"A logit lens is not meaningful for '{loaded.model_id}': its final norm and output head do not "
            f"reproduce its own prediction (largest logit gap {gap:.3g}); the model does more after its "
            "last layer than this tool can follow.",
            model=loaded.model_id,
        )


def run_lens(
    loaded: LoadedModel,
    text: str,
    positions: Sequence[int] | None = None,
    track: Sequence[int] = (),
    top_k: int = LENS_TOP_K,
    max_tokens: int = MAX_TOKENS,
) -> LogitLens:
    """Read every layer of ``text`` through the model's final norm and head.

    ``positions``: the token positions to read (``None`` = all). Only the
    tokens up to the last one asked for are run: later tokens cannot change
    a causal model's prediction there. ``track``: vocabulary ids whose
    probability and rank are kept in every cell. Cost: one forward pass plus
    one unembedding per (row, position) cell.
    """
    import torch

    text = check_text(text)
    tokens = tokenize(loaded, text, max_tokens)
    n = len(tokens)
    cols = tuple(range(n)) if positions is None else tuple(check_position(p, n) for p in positions)
    if not cols:
        raise AnalysisError("bad_position", "No position to read: give at least one position.")
    tracked = tuple(resolve_token(loaded, int(t)).id for t in track)
    parts = find_parts(loaded)
    vocab = loaded.vocab_size
    k = max(1, min(int(top_k), vocab))
    ids = [t.id for t in tokens[: max(cols) + 1]]
    rows = len(parts.layers) + 1
    resid: list = [None] * rows  # each [position, d_model]

    def take_input(module, args, kwargs):
        hidden = args[0] if args else kwargs["hidden_states"]
        resid[0] = hidden[0].detach().clone()

    def take_output(row):
        def hook(module, args, output):
            hidden = output[0] if isinstance(output, tuple) else output
            resid[row] = hidden[0].detach().clone()

        return hook

    with model_turn():
        handles = [parts.layers[0].register_forward_pre_hook(take_input, with_kwargs=True)]
        try:
            handles += [layer.register_forward_hook(take_output(i + 1)) for i, layer in enumerate(parts.layers)]
            extra = {"logits_to_keep": 1} if supports_logits_to_keep(loaded) else {}
            real = forward(loaded, ids, **extra).logits[0, -1].float()  # [vocab] at the last position run
        finally:
            for h in handles:
                h.remove()
        if any(r is None for r in resid):
            raise AnalysisError(
                "lens_unavailable",
                f"A logit lens is not meaningful for '{loaded.model_id}': its layers did not all run on the sentence.",
            )
        stacked = torch.stack(resid)[:, list(cols)]  # [row, column, d_model]
        normed = parts.final_norm(stacked).reshape(rows * len(cols), -1)  # [cell, d_model]
        last = (rows - 1) * len(cols) + cols.index(max(cols))  # the last row at the last position run
        cells = normed.shape[0]
        top_ids = np.empty((cells, k), dtype=np.int64)
        top_probs = np.empty((cells, k), dtype=np.float32)
        t_probs = np.empty((cells, len(tracked)), dtype=np.float32)
        t_ranks = np.empty((cells, len(tracked)), dtype=np.int64)
        t_index = torch.tensor(tracked, dtype=torch.long)
        for first in range(0, cells, _CELL_CHUNK):
            sl = slice(first, min(first + _CELL_CHUNK, cells))
            logits = unembed(parts, normed[sl])  # [cell, vocab]
            if sl.start <= last < sl.stop:
                _check_reproduces(loaded, logits[last - sl.start], real)
            log_z = torch.logsumexp(logits, dim=-1, keepdim=True)  # [cell, 1]
            top = torch.topk(logits, k, dim=-1, sorted=True)
            top_ids[sl] = top.indices.numpy()
            top_probs[sl] = torch.exp(top.values - log_z).numpy()
            if tracked:
                chosen = logits[:, t_index]  # [cell, tracked]
                t_probs[sl] = torch.exp(chosen - log_z).numpy()
                for j in range(len(tracked)):
                    # rank over the whole vocabulary: 1 + how many tokens score strictly higher
                    t_ranks[sl, j] = ((logits > chosen[:, j : j + 1]).sum(dim=-1, dtype=torch.int32) + 1).numpy()
            del logits
    shape = (rows, len(cols))
    labels = label_ids(loaded, list(np.unique(top_ids)) + list(tracked))
    return LogitLens(
        model_id=loaded.model_id,
        text=text,
        tokens=tokens,
        positions=cols,
        top_ids=top_ids.reshape(shape + (k,)),
        top_probs=top_probs.reshape(shape + (k,)),
        tracked_ids=tracked,
        tracked_probs=t_probs.reshape(shape + (len(tracked),)),
        tracked_ranks=t_ranks.reshape(shape + (len(tracked),)),
        labels=labels,
    )
