"""Knock out heads, attention blocks and MLPs at one position: a causal test
of which parts of the model carry a prediction.

A head is knocked out by zeroing its slice of the attention output
projection's input (``o_proj`` in Gemma, ``c_proj`` in GPT-2) at query
position ``p`` only, with a forward pre-hook on that projection. A whole
attention block or MLP is knocked out by zeroing its output at ``p`` (for
Gemma that output then goes through a norm, and RMSNorm(0) = 0, so the
block adds nothing to the residual stream there). Because a causal model
never lets position ``p`` influence an earlier one, every prediction before
``p`` is untouched.

All knockouts of one question run as one batch: row 0 knocks out nothing,
and each other row knocks out something different, so 72 heads + 18
attention blocks + 18 MLPs on Gemma are one forward pass.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from components.alignment import Token
from components.analysis import MAX_TOKENS, check_text, tokenize
from components.inference import AnalysisError, forward, model_turn
from components.lens import ModelParts, TargetToken, check_position, find_parts, resolve_token, supports_logits_to_keep
from components.models import LoadedModel

HEAD, ATTENTION, MLP = "head", "attention", "mlp"
#: logits kept per forward pass (batch rows are split to stay under it)
_LOGIT_BUDGET_BYTES = 256 * 2**20


@dataclass(frozen=True)
class Knockout:
    """Zero one part's output at one query position."""

    kind: str  # HEAD | ATTENTION | MLP
    layer: int  # 0-based decoder layer
    position: int  # token position (<bos> = 0)
    head: int = 0  # query head, for HEAD


@dataclass(frozen=True)
class Knockouts:
    """How much zeroing each part at ``position`` changes the prediction of
    the token after it. Deltas are (knocked out) − (intact) in nats: negative
    means the part was pushing towards ``target`` (or towards it over ``versus``)."""

    model_id: str
    text: str
    tokens: tuple[Token, ...]
    position: int  # query position (<bos> = 0); its prediction is of token position + 1
    target: TargetToken
    versus: TargetToken | None
    baseline: float  # nats, intact: log p(target), or log p(target) - log p(versus)
    target_logprob: float  # nats, intact
    versus_logprob: float | None  # nats, intact
    heads: np.ndarray  # [layer, head] float32 nats: change when that head's output at position is zeroed
    attention: np.ndarray  # [layer] float32 nats: change when the whole attention block's output is zeroed
    mlp: np.ndarray  # [layer] float32 nats: change when the MLP's output is zeroed

    @property
    def n_layers(self) -> int:
        return int(self.heads.shape[0])

    @property
    def n_heads(self) -> int:
        return int(self.heads.shape[1])

    @property
    def metric(self) -> str:
        """What ``baseline`` and the deltas measure, e.g. ``log p(鳴) - log p(泣)``."""
        if self.versus is None:
            return f"log p({self.target.label})"
        return f"log p({self.target.label}) - log p({self.versus.label})"

    def strongest(self, n: int = 3) -> list[tuple[int, int, float]]:
        """The ``n`` heads whose knockout lowers the metric most: ``(layer, head, delta)``."""
        order = np.argsort(self.heads, axis=None, kind="stable")[:n]
        return [(int(i) // self.n_heads, int(i) % self.n_heads, float(self.heads.flat[i])) for i in order]


def _check_parts(parts: ModelParts, loaded: LoadedModel, kinds: set[str]) -> None:
    problems = []
    if HEAD in kinds and (parts.out_projs is None or not parts.head_dim):
        problems.append("an attention output projection whose input is the heads side by side")
    if ATTENTION in kinds and parts.attentions is None:
        problems.append("an attention module in every layer")
    if MLP in kinds and parts.mlps is None:
        problems.append("an MLP module in every layer")
    if problems:
        raise AnalysisError(
            "knockout_unavailable",
            f"Knockouts are not available for '{loaded.model_id}': this tool could not find "
            f"{' or '.join(problems)}. Choose the bundled Gemma or GPT-2.",
            model=loaded.model_id,
        )


def _zero_heads(cells: list[tuple[int, int, int]], n_heads: int, head_dim: int):
    """Pre-hook for an output projection: zero (batch row, position, head) slices of its input."""
    import torch

    rows, positions, heads = (torch.tensor(c, dtype=torch.long) for c in zip(*cells))

    def hook(module, args, kwargs):
        name = None if args else next(iter(kwargs))  # the input passed by keyword (Linear: input, Conv1D: x)
        x = (args[0] if args else kwargs[name]).clone()  # [batch, position, head * head_dim]
        x.view(*x.shape[:-1], n_heads, head_dim)[rows, positions, heads] = 0.0
        if args:
            return (x,) + tuple(args[1:]), kwargs
        return args, {**kwargs, name: x}

    return hook


def _zero_output(cells: list[tuple[int, int]]):
    """Forward hook: zero (batch row, position) of a module's output (its first element if a tuple)."""
    import torch

    rows, positions = (torch.tensor(c, dtype=torch.long) for c in zip(*cells))

    def hook(module, args, output):
        first = (output[0] if isinstance(output, tuple) else output).clone()  # [batch, position, d_model]
        first[rows, positions] = 0.0
        return (first,) + tuple(output[1:]) if isinstance(output, tuple) else first

    return hook


def _run_rows(loaded: LoadedModel, parts: ModelParts, ids: Sequence[int], rows: Sequence[Sequence[Knockout]], last_only: bool):
    """Logits of a batch in which row ``b`` knocks out ``rows[b]``:
    torch ``[row, position, vocab]`` (``position`` = 1 with ``last_only``).
    Call inside :func:`model_turn`."""
    import torch

    n_layers, n = len(parts.layers), len(ids)
    heads, attns, mlps = defaultdict(list), defaultdict(list), defaultdict(list)
    for b, row in enumerate(rows):
        for ko in row:
            if not 0 <= ko.layer < n_layers:
                raise AnalysisError("bad_layer", f"Layer {ko.layer} does not exist: layers are 0 to {n_layers - 1}.")
            if not 0 <= ko.position < n:
                raise AnalysisError("bad_position", f"Position {ko.position} is outside the {n} tokens run.")
            if ko.kind == HEAD:
                if not 0 <= ko.head < parts.n_heads:
                    raise AnalysisError("bad_head", f"Head {ko.head} does not exist: heads are 0 to {parts.n_heads - 1}.")
                heads[ko.layer].append((b, ko.position, ko.head))
            elif ko.kind == ATTENTION:
                attns[ko.layer].append((b, ko.position))
            elif ko.kind == MLP:
                mlps[ko.layer].append((b, ko.position))
            else:
                raise AnalysisError("bad_knockout", f"Unknown knockout kind {ko.kind!r}: use head, attention or mlp.")
    _check_parts(parts, loaded, {ko.kind for row in rows for ko in row})
    keep_last = last_only and supports_logits_to_keep(loaded)
    per_row = (1 if keep_last else n) * loaded.vocab_size * 4
    batch = max(1, _LOGIT_BUDGET_BYTES // per_row)
    out = []
    for first in range(0, len(rows), batch):
        span = range(first, min(first + batch, len(rows)))
        handles = []
        try:
            for layer, cells in heads.items():
                mine = [(b - first, p, h) for b, p, h in cells if b in span]
                if mine:
                    handles.append(parts.out_projs[layer].register_forward_pre_hook(
                        _zero_heads(mine, parts.n_heads, parts.head_dim), with_kwargs=True))
            for modules, table in ((parts.attentions, attns), (parts.mlps, mlps)):
                for layer, cells in table.items():
                    mine = [(b - first, p) for b, p in cells if b in span]
                    if mine:
                        handles.append(modules[layer].register_forward_hook(_zero_output(mine)))
            logits = forward(loaded, [list(ids)] * len(span), **({"logits_to_keep": 1} if keep_last else {})).logits
        finally:
            for h in handles:
                h.remove()
        out.append(logits[:, -1:] if last_only else logits)
    return torch.cat(out).float()


def knockout_logits(
    loaded: LoadedModel, ids: Sequence[int], rows: Sequence[Sequence[Knockout]], last_only: bool = False
) -> np.ndarray:
    """Logits of ``ids`` with ``rows[b]`` knocked out in batch row ``b`` (an
    empty row knocks out nothing): ``[row, position, vocab]`` float32, or
    ``[row, 1, vocab]`` for the last position only. Mostly for checks: the
    full array is large for Gemma."""
    with model_turn():
        parts = find_parts(loaded)
        return _run_rows(loaded, parts, ids, rows, last_only).numpy()


def _token_for(loaded: LoadedModel, target: str | int | TargetToken) -> TargetToken:
    return target if isinstance(target, TargetToken) else resolve_token(loaded, target)


def run_knockouts(
    loaded: LoadedModel,
    text: str,
    target: str | int | TargetToken,
    versus: str | int | TargetToken | None = None,
    position: int | None = None,
    max_tokens: int = MAX_TOKENS,
) -> Knockouts:
    """Knock out every head, attention block and MLP at ``position`` (default:
    the last token), one at a time, in one batched forward pass, and measure
    the change in log p(target), or in log p(target) - log p(versus), in nats.

    ``target``/``versus``: a text (counted by its first token) or a token id.
    Only the tokens up to ``position`` are run: later ones cannot matter.
    """
    import torch

    text = check_text(text)
    tokens = tokenize(loaded, text, max_tokens)
    p = check_position(position, len(tokens))
    tgt = _token_for(loaded, target)
    vs = None if versus is None else _token_for(loaded, versus)
    if vs is not None and vs.id == tgt.id:
        raise AnalysisError(
            "same_target", f"'{tgt.text}' and '{vs.text}' are the same token ({tgt.label}): choose two different words."
        )
    ids = [t.id for t in tokens[: p + 1]]
    with model_turn():
        parts = find_parts(loaded)
        n_layers, n_heads = len(parts.layers), parts.n_heads
        rows: list[tuple[Knockout, ...]] = [()]
        rows += [(Knockout(HEAD, layer, p, head),) for layer in range(n_layers) for head in range(n_heads)]
        rows += [(Knockout(ATTENTION, layer, p),) for layer in range(n_layers)]
        rows += [(Knockout(MLP, layer, p),) for layer in range(n_layers)]
        _check_parts(parts, loaded, {HEAD, ATTENTION, MLP})
        logits = _run_rows(loaded, parts, ids, rows, last_only=True)[:, -1]  # [row, vocab]
        log_z = torch.logsumexp(logits, dim=-1)  # [row]
        lp_target = (logits[:, tgt.id] - log_z).double().numpy()  # [row]
        lp_versus = None if vs is None else (logits[:, vs.id] - log_z).double().numpy()
    value = lp_target if lp_versus is None else lp_target - lp_versus  # [row]
    delta = (value[1:] - value[0]).astype(np.float32)
    n_head_rows = n_layers * n_heads
    return Knockouts(
        model_id=loaded.model_id,
        text=text,
        tokens=tokens,
        position=p,
        target=tgt,
        versus=vs,
        baseline=float(value[0]),
        target_logprob=float(lp_target[0]),
        versus_logprob=None if lp_versus is None else float(lp_versus[0]),
        heads=delta[:n_head_rows].reshape(n_layers, n_heads),
        attention=delta[n_head_rows : n_head_rows + n_layers],
        mlp=delta[n_head_rows + n_layers :],
    )
