"""In-context learning: few-shot prompts, the answer's probability as
demonstrations are added, where the final position looks, and induction heads.

Prompts have one demonstration per line, ``input→answer``, then the query
line ``query→``; the model's continuation is its answer.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from components.alignment import Token
from components.analysis import MAX_TOKENS, label_ids, tokenize
from components.inference import AnalysisError, forward, model_turn
from components.examples import EXAMPLES_DIR
from components.models import LoadedModel

ARROW = "→"
TASKS_FILE = EXAMPLES_DIR / "icl_tasks.toml"


@dataclass(frozen=True)
class Task:
    id: str
    titles: Mapping[str, str]
    pairs: tuple[tuple[str, str], ...]
    query: str
    answer: str

    def title(self, lang: str) -> str:
        return self.titles.get(lang) or self.titles["ja"]


@lru_cache(maxsize=2)
def load_tasks(path: Path = TASKS_FILE) -> tuple[Task, ...]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return tuple(
        Task(t["id"], {"ja": t["title_ja"], "en": t["title_en"]}, tuple((a, b) for a, b in t["pairs"]), t["query"], t["answer"])
        for t in data["task"]
    )


@dataclass(frozen=True)
class Prompt:
    text: str
    lines: tuple[tuple[int, int], ...]  # character span of each demonstration line, then the query line


def build_prompt(pairs: Sequence[tuple[str, str]], query: str) -> Prompt:
    """``a→b`` per line, then ``query→`` (no newline after it: the answer follows)."""
    text, spans = "", []
    for a, b in pairs:
        line = f"{a}{ARROW}{b}"
        spans.append((len(text), len(text) + len(line)))
        text += line + "\n"
    spans.append((len(text), len(text) + len(query) + 1))
    return Prompt(text + f"{query}{ARROW}", tuple(spans))


def parse_pairs(text: str) -> tuple[tuple[str, str], ...]:
    """Demonstrations typed one per line as ``input→answer`` (also ``->`` or a tab)."""
    pairs = []
    for line in (text or "").splitlines():
        for sep in (ARROW, "->", "\t"):
            if sep in line:
                a, b = line.split(sep, 1)
                if a.strip() and b.strip():
                    pairs.append((a.strip(), b.strip()))
                break
    return tuple(pairs)


def shuffle_answers(pairs: Sequence[tuple[str, str]], seed: int = 0) -> tuple[tuple[str, str], ...]:
    """The same inputs with the answers permuted so that none stays in place
    (a control: does the model read the mapping, or only the format?)."""
    n = len(pairs)
    if n < 2:
        return tuple(pairs)
    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(n)
        if np.all(order != np.arange(n)):
            return tuple((pairs[i][0], pairs[j][1]) for i, j in enumerate(order))


@dataclass(frozen=True)
class CurvePoint:
    n_demos: int
    answer_prob: float  # probability of the whole answer, token by token
    top_text: str  # the model's most likely next token
    top_prob: float


def answer_probability(loaded: LoadedModel, prompt: str, answer: str) -> tuple[float, int, float]:
    """P(answer | prompt), chaining the answer's tokens; and the top next token (id, prob)."""
    import torch

    prompt_ids = [t.id for t in tokenize(loaded, prompt, MAX_TOKENS)]
    answer_ids = list(loaded.tokenizer(answer, add_special_tokens=False)["input_ids"])
    if not answer_ids:
        raise AnalysisError("empty_answer", "The expected answer is empty: type the answer the model should give.")
    start = len(prompt_ids) - 1
    with model_turn():
        logits = forward(loaded, prompt_ids + answer_ids).logits[0]
        # only the rows that predict the answer: [answer token, vocab]
        lp = torch.log_softmax(logits[start:start + len(answer_ids)].double(), dim=-1)
    total = sum(float(lp[i, a]) for i, a in enumerate(answer_ids))
    top = int(lp[0].argmax())
    return float(np.exp(total)), top, float(np.exp(float(lp[0, top])))


def few_shot_curve(
    loaded: LoadedModel, pairs: Sequence[tuple[str, str]], query: str, answer: str
) -> tuple[CurvePoint, ...]:
    """The answer's probability with the first 0, 1, ..., all demonstrations."""
    points, tops = [], []
    for n in range(len(pairs) + 1):
        p, top, top_p = answer_probability(loaded, build_prompt(pairs[:n], query).text, answer)
        points.append((n, p, top_p))
        tops.append(top)
    labels = label_ids(loaded, tops)
    return tuple(CurvePoint(n, p, labels[t], tp) for (n, p, tp), t in zip(points, tops))


def line_attention(
    attentions: np.ndarray, tokens: Sequence[Token], prompt: Prompt
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Attention of the final position over the prompt's parts.

    ``attentions  # [layer, head, query, key]`` -> ``[layer, part]``: weight
    summed over each part's tokens, averaged over heads. Parts: ``<bos>``
    (special tokens), each demonstration line, the query line; newlines
    count with the line before them."""
    last = attentions[:, :, -1, :]  # [layer, head, key]
    parts = np.zeros((attentions.shape[0], len(prompt.lines) + 1))
    for token in tokens:
        if token.special:
            part = 0
        else:
            part = len(prompt.lines)
            for i, (start, end) in enumerate(prompt.lines):
                if token.start < end + 1:  # +1: the newline closing the line
                    part = i + 1
                    break
        parts[:, part] += last[:, :, token.index].mean(axis=1)
    names = ("<bos>",) + tuple(prompt.text[s:e] for s, e in prompt.lines)
    return parts, names


# ------------------------------------------------------------ induction heads


def repeated_random_tokens(loaded: LoadedModel, length: int = 30, seed: int = 0) -> tuple[int, ...]:
    """``<bos>`` (if the model has one) + ``length`` random ordinary tokens, twice."""
    vocab = loaded.vocab_size
    special = loaded.special_ids
    rng = np.random.default_rng(seed)
    pool = [i for i in range(vocab // 10, vocab // 2) if i not in special]
    seq = [int(i) for i in rng.choice(pool, size=length, replace=False)]
    bos = getattr(loaded.tokenizer, "bos_token_id", None)
    return ((bos,) if bos is not None else ()) + tuple(seq) * 2


def induction_scores(attentions: np.ndarray, length: int, offset: int = 1) -> np.ndarray:
    """``[layer, head, query, key]`` over ``offset`` prefix tokens + a random
    sequence of ``length`` repeated twice -> ``[layer, head]``: the mean
    attention from each token of the second copy to the token right after
    its earlier occurrence (query ``q`` to key ``q - length + 1``)."""
    queries = np.arange(offset + length, offset + 2 * length)
    keys = queries - length + 1
    return attentions[:, :, queries, keys].mean(axis=-1)


def answer_pieces(loaded: LoadedModel, answer: str) -> tuple[str, ...]:
    """The readable tokens of an expected answer, as the model will have to write them (書いた -> 書, いた)."""
    ids = list(loaded.tokenizer(answer, add_special_tokens=False)["input_ids"])
    labels = label_ids(loaded, ids)
    return tuple(labels[i] for i in ids)
