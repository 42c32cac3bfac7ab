"""Step-by-step generation: one token at a time, with the distribution it
was drawn from and the attention row of the new token.

A generation is a pure function of (model, prompt, settings, number of
steps): step ``i`` draws with ``numpy.random.default_rng([seed, i])``, so a
demonstration can be repeated exactly, and undo is "one step fewer".
Each step costs one forward pass: the pass that reads the new token also
gives the distribution of the next one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from components.alignment import Token, token_label
from components.analysis import MAX_TOKENS, check_text, label_ids, tokenize
from components.inference import AnalysisError, forward, model_turn
from components.models import LoadedModel
from components.sampling import TokenProb, filter_top_k_top_p, sample, softmax


@dataclass(frozen=True)
class Settings:
    temperature: float = 1.0
    top_k: int = 0  # 0: no top-k cut
    top_p: float = 1.0  # 1.0: no nucleus cut
    seed: int = 0
    greedy: bool = False


@dataclass(frozen=True)
class Step:
    """One generated token."""

    id: int
    text: str  # readable label of the token
    prob: float  # its probability in the distribution it was drawn from
    candidates: tuple[TokenProb, ...]  # that distribution's top tokens (plus the chosen one)
    attention: np.ndarray  # [layer, head, key]: the new token's attention over every token so far, itself included


@dataclass(frozen=True)
class Generation:
    prompt: str
    prompt_ids: tuple[int, ...]
    prompt_labels: tuple[str, ...]
    steps: tuple[Step, ...]
    next_logits: np.ndarray  # [vocab] float32: logits of the token after the last one
    generated_text: str = ""  # the new tokens decoded together (byte pieces join into characters)
    finished: bool = False  # the model produced its end-of-sequence token, or the length limit is reached

    @property
    def ids(self) -> tuple[int, ...]:
        return self.prompt_ids + tuple(s.id for s in self.steps)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.prompt_labels + tuple(s.text for s in self.steps)


def _forward(loaded: LoadedModel, ids: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Last position's logits ``[vocab]`` and its attention row ``[layer, head, key]``."""
    import torch

    with model_turn():
        out = forward(loaded, list(ids), attentions=True)
        row = torch.stack([a[0, :, -1, :] for a in out.attentions]).float().numpy()
        return out.logits[0, -1].float().numpy(), row


def start(loaded: LoadedModel, prompt: str) -> Generation:
    """Tokenize the prompt and compute the distribution of its next token."""
    tokens: tuple[Token, ...] = tokenize(loaded, check_text(prompt), MAX_TOKENS - 1)
    ids = tuple(t.id for t in tokens)
    logits, _ = _forward(loaded, ids)
    return Generation(prompt, ids, tuple(token_label(t) for t in tokens), (), logits)


def distribution(logits: np.ndarray, settings: Settings) -> np.ndarray:
    """The distribution a token is drawn from  # [vocab]: temperature, then top-k and top-p."""
    if settings.greedy:
        probs = np.zeros(logits.shape[0])
        probs[int(np.argmax(logits))] = 1.0
        return probs
    probs = softmax(logits, settings.temperature)
    return filter_top_k_top_p(probs, settings.top_k or None, settings.top_p if settings.top_p < 1 else None)


def extend(loaded: LoadedModel, gen: Generation, settings: Settings, shown: int = 10) -> Generation:
    """Add one token. Raises AnalysisError at the length limit."""
    if gen.finished or len(gen.ids) >= MAX_TOKENS:
        raise AnalysisError(
            "too_long", f"The text has reached the limit of {MAX_TOKENS} tokens: press Undo or Reset, or shorten the prompt.",
            n=len(gen.ids), limit=MAX_TOKENS,
        )
    step_index = len(gen.steps)
    if settings.greedy:
        # the distribution shown is the plain softmax; the choice is its argmax
        probs = softmax(gen.next_logits, settings.temperature)
        chosen = int(np.argmax(gen.next_logits))
    else:
        probs = distribution(gen.next_logits, settings)
        chosen = sample(probs, np.random.default_rng([settings.seed, step_index]))
    order = np.argsort(-probs, kind="stable")[:shown]
    show_ids = [int(i) for i in order if probs[i] > 0]
    if chosen not in show_ids:
        show_ids.append(chosen)
    labels = label_ids(loaded, show_ids)
    candidates = tuple(TokenProb(i, labels[i], float(probs[i])) for i in show_ids)
    ids = gen.ids + (chosen,)
    logits, row = _forward(loaded, ids)
    step = Step(chosen, labels[chosen], float(probs[chosen]), candidates, row)
    eos = getattr(loaded.tokenizer, "eos_token_id", None)
    new_ids = [s.id for s in gen.steps] + [chosen]
    return replace(
        gen, steps=gen.steps + (step,), next_logits=logits,
        generated_text=loaded.tokenizer.decode(new_ids, skip_special_tokens=True),
        finished=(chosen == eos) or len(ids) >= MAX_TOKENS,
    )


def generate(loaded: LoadedModel, prompt: str, n_steps: int, settings: Settings) -> Generation:
    """``n_steps`` tokens after ``prompt`` (fewer if the model ends the text)."""
    gen = start(loaded, prompt)
    for _ in range(n_steps):
        if gen.finished:
            break
        gen = extend(loaded, gen, settings)
    return gen
