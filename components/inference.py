"""Every forward pass of a model in the app goes through here.

:func:`model_turn` holds the lock that gives model runs their turns, puts
torch in ``inference_mode``, and turns whatever a model raises into an
:class:`AnalysisError` that says what to do. :func:`forward` is the one call
of a loaded model's forward pass. The modules that use them (``analysis``,
``generation``, ``icl``, ``lens``) convert the torch outputs to float32
numpy inside the turn, so nothing big outlives it.

Training (``rlhf``) runs on its own copy of the model and never enters here.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator, Sequence


class AnalysisError(ValueError):
    """Input a model cannot be run on, or a run that failed. ``code`` lets a
    UI say it in its own language; the message says how to fix it."""

    def __init__(self, code: str, message: str, **params):
        super().__init__(message)
        self.code = code
        self.params = params


class ModelGate:
    """Serialises model runs: two cores are better used by one forward pass at
    a time than by several fighting for them, and torch modules are shared.
    It also counts the runs under way or waiting, so a page can say that a
    student is waiting for their turn."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._pending = 0

    def __enter__(self) -> "ModelGate":
        with self._count_lock:
            self._pending += 1
        try:
            self._lock.acquire()
        except BaseException:
            with self._count_lock:
                self._pending -= 1
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._lock.release()
        with self._count_lock:
            self._pending -= 1

    @property
    def pending(self) -> int:
        """Model runs under way or waiting for their turn."""
        return self._pending


MODEL_LOCK = ModelGate()


@contextlib.contextmanager
def model_turn() -> Iterator[None]:
    """One turn with the model: the lock, ``inference_mode``, and errors
    mapped to :class:`AnalysisError`. Everything big a run makes should be
    reduced to numpy inside the turn, so students waiting hold no memory."""
    import torch

    with MODEL_LOCK, torch.inference_mode():
        try:
            yield
        except AnalysisError:
            raise
        except (RuntimeError, IndexError, ValueError) as exc:
            # a custom model whose tokenizer and weights disagree, or a shape it cannot take
            raise AnalysisError(
                "model_failed",
                f"The model could not run this input ({type(exc).__name__}: {exc}). "
                "Try a shorter sentence, or choose another model.",
                detail=f"{type(exc).__name__}: {exc}",
            ) from exc


def forward(loaded, ids: Sequence[int] | Sequence[Sequence[int]], *, attentions: bool = False, **kwargs: Any):
    """The model's forward pass over token ids (one sequence ``[position]`` or
    a batch of equal-length ones ``[batch, position]``), with every position
    visible to the causal mask. Call it inside :func:`model_turn`."""
    import torch

    if not MODEL_LOCK._lock.locked():
        raise RuntimeError("forward() runs inside model_turn(): take the turn first")
    input_ids = torch.as_tensor(ids, dtype=torch.long)
    if input_ids.dim() == 1:
        input_ids = input_ids[None]
    return loaded.model(
        input_ids=input_ids, attention_mask=torch.ones_like(input_ids), output_attentions=attentions, **kwargs
    )
