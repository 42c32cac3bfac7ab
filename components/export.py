"""JSON and CSV exports of an analysis.

The JSON object is what ``python -m components analyze --json`` writes and
what the app's download button gives. Nested lists keep the axis order
``[layer][head][query][key]``.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import numpy as np

from components.alignment import token_label
from components.analysis import Analysis
from components.lens import LogitLens
from components.sampling import NextTokenLogits, top_tokens
from components.views import HeadView

SCHEMA_VERSION = 1


def _next_tokens(analysis: Analysis, logits: NextTokenLogits, top_k: int, temperature: float) -> list[dict]:
    return [
        {
            "position": pos,
            "top": [
                {"id": tp.id, "text": tp.text, "prob": tp.prob}
                for tp in top_tokens(logits, pos, analysis.labels, temperature, top_k)
            ],
        }
        for pos in range(logits.n_positions)
    ]


def lens_to_list(lens: LogitLens) -> list[list[list[dict]]]:
    """``lens[row][column]`` = the kept top-k ``{id, text, prob}`` (row 0 the
    embedding, row l the output of layer l; probabilities at temperature 1)."""
    return [
        [
            [{"id": int(i), "text": lens.labels[int(i)], "prob": float(p)} for i, p in zip(ids, probs)]
            for ids, probs in zip(row_ids, row_probs)
        ]
        for row_ids, row_probs in zip(lens.top_ids, lens.top_probs)
    ]


def analysis_to_dict(
    analysis: Analysis, top_k: int = 10, temperature: float = 1.0, lens: LogitLens | None = None
) -> dict[str, Any]:
    """A JSON-ready dict; ``next_tokens[i]`` is the distribution of the token after position i.
    With ``lens`` (of the same text, every position) it adds ``lens[row][position]``."""
    out: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "model": analysis.model_id,
        "text": analysis.text,
        "axes": "attentions[layer][head][query][key]",
        "n_layers": analysis.n_layers,
        "n_heads": analysis.n_heads,
        "temperature": temperature,
        "tokens": [
            {
                "index": t.index,
                "id": t.id,
                "text": t.piece if t.special else t.text,
                "label": token_label(t),
                "piece": t.piece,
                "start": t.start,
                "end": t.end,
                "special": t.special,
            }
            for t in analysis.tokens
        ],
        "morphemes": [
            {
                "surface": m.surface,
                "reading": m.reading,
                "lemma": m.lemma,
                "pos": m.pos,
                "pos_detail": m.pos_detail,
                "start": m.start,
                "end": m.end,
                "tokens": list(m.tokens),
            }
            for m in analysis.morphemes
        ],
        "attentions": analysis.attentions.tolist(),
        "next_tokens": _next_tokens(analysis, analysis.next_logits, top_k, temperature),
        "morpheme_units": [
            {"label": u.label, "start": u.start, "end": u.end, "tokens": list(u.tokens), "morpheme": u.morpheme}
            for u in analysis.units
        ],
        "morpheme_attentions": analysis.unit_attentions.tolist(),
    }
    if analysis.scores is not None:
        # -inf never appears: these are the scores *before* the mask is added.
        out["scores"] = analysis.scores.tolist()
    if analysis.unmasked_attentions is not None:
        out["unmasked_attentions"] = analysis.unmasked_attentions.tolist()
    if analysis.unmasked_next_logits is not None:
        out["unmasked_next_tokens"] = _next_tokens(
            analysis, analysis.unmasked_next_logits, top_k, temperature
        )
    if lens is not None:
        if lens.text != analysis.text or lens.positions != tuple(range(analysis.n_tokens)):
            raise ValueError("the lens must read every position of the analysed text")
        out["lens_axes"] = "lens[row][position]: row 0 = embedding, row l = output of layer l; top-k at T=1"
        out["lens"] = lens_to_list(lens)
    return out


def analysis_to_json(
    analysis: Analysis, top_k: int = 10, temperature: float = 1.0, lens: LogitLens | None = None
) -> str:
    return json.dumps(analysis_to_dict(analysis, top_k, temperature, lens), ensure_ascii=False)


def head_to_csv(view: HeadView) -> str:
    """The shown head as CSV, one row per (query, key) cell, as on screen
    (token or morpheme units, with or without the first-key column)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["layer", "head", "view", "query", "key", "query_text", "key_text", "weight", "masked"])
    offset = 1 if view.hide_sink else 0  # indices refer to the full token (or unit) list
    for q, q_label in enumerate(view.query_labels):
        for k, k_label in enumerate(view.key_labels):
            w = float(view.weights[q, k])
            writer.writerow(
                [view.layer, view.head, view.view, q + offset, k + offset, q_label, k_label,
                 "" if np.isnan(w) else f"{w:.8g}", int(view.masked[q, k])]
            )
    return buf.getvalue()
