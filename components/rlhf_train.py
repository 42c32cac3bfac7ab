"""The torch side of the RLHF lesson: a private trainable copy of a model,
LoRA adapters, sampling, log-probabilities, reward features, the
Bradley–Terry head and one RLOO update.

Nothing here touches the model the class is using. :func:`training_copy`
loads its own copy of the weights (a second ~1.1 GB for Gemma), wraps *that*
copy with PEFT, and frees it when the block ends, also when a job is
cancelled. Adapters, by name:

* ``sft``: trained on the demonstrations (step 1); it is also the *reference*
  policy of step 3;
* ``policy``: starts as a copy of ``sft`` and is optimised against the reward
  model (step 3);
* no adapter (``base()``): the frozen base model, whose mean-pooled last-layer
  states are the reward model's features (step 2).

Results leave this module as plain Python numbers, lists and numpy arrays.
"""

from __future__ import annotations

import contextlib
import gc
import math
import warnings
import weakref
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from components import models

#: LoRA targets per architecture: the attention projections only
LORA_TARGETS = {
    "gemma3_text": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "gpt2": ["attn.c_attn", "attn.c_proj"],  # fused q/k/v, then the output projection
}

Check = Callable[[], None]  # raises when the job was cancelled

#: every private model copy still in memory (a cancelled job must leave none)
_LIVE: "weakref.WeakSet[Any]" = weakref.WeakSet()


def live_copies() -> int:
    """How many private training copies of a model are still in memory."""
    gc.collect()
    return len(_LIVE)


def no_check() -> None:
    """The cancellation check of a run nobody can cancel."""
    return None


class TrainingCopy:
    """A private copy of a model wrapped with LoRA adapters. Holds torch
    objects: use it inside :func:`training_copy`, never cache it."""

    def __init__(self, model_id: str, lora_r: int, seed: int):
        import torch
        from peft import LoraConfig, get_peft_model

        base, self.tokenizer = _load_copy(model_id)
        _LIVE.add(base)
        kind = base.config.model_type
        if kind not in LORA_TARGETS:
            raise ValueError(f"RLHF training supports {sorted(LORA_TARGETS)} models, not {kind}")
        for p in base.parameters():
            p.requires_grad_(False)
        self.lora_config = LoraConfig(
            r=lora_r, lora_alpha=2 * lora_r, lora_dropout=0.0, target_modules=LORA_TARGETS[kind],
            fan_in_fan_out=(kind == "gpt2"),  # GPT-2 stores its projections transposed (Conv1D)
        )
        # LoRA's A matrices are drawn from torch's global generator: seed it for
        # this call only, so the same settings give the same adapter
        with torch.random.fork_rng(), warnings.catch_warnings():
            torch.manual_seed(seed)
            warnings.simplefilter("ignore", FutureWarning)  # PEFT asks a deprecated transformers property
            self.model = get_peft_model(base, self.lora_config, adapter_name="sft")
        self.model.eval()  # no dropout anywhere: training steps are deterministic
        self.hf = self.model.get_base_model()
        self.backbone = getattr(self.hf, self.hf.base_model_prefix)  # the decoder without its LM head
        self.eos_id = int(self.tokenizer.eos_token_id)
        self.pad_id = int(self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.eos_id)
        self.hidden_size = int(self.hf.get_input_embeddings().weight.shape[1])
        self._lm_head = self.hf.get_output_embeddings()
        self._softcap = getattr(self.hf.config, "final_logit_softcapping", None)

    def head(self, states):
        """Logits  # [..., vocab] from last-layer states  # [..., hidden], as the model's own forward."""
        import torch

        logits = self._lm_head(states)
        if self._softcap:
            logits = torch.tanh(logits / self._softcap) * self._softcap
        return logits

    # ------------------------------------------------------------ adapters

    @contextlib.contextmanager
    def adapter(self, name: str) -> Iterator[None]:
        """Run with one adapter active (``sft`` or ``policy``), then go back."""
        previous = self.model.active_adapter
        self.model.set_adapter(name)
        try:
            yield
        finally:
            self.model.set_adapter(previous)

    def base(self):
        """Context: the frozen base model, every adapter off."""
        return self.model.disable_adapter()

    def start_policy(self) -> int:
        """Add the ``policy`` adapter as a copy of ``sft`` and make it the
        only trainable one. Returns its number of trainable parameters."""
        import torch

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            self.model.add_adapter("policy", self.lora_config)
        with torch.no_grad():
            params = dict(self.model.named_parameters())
            for name, p in params.items():
                if ".policy." in name:
                    p.copy_(params[name.replace(".policy.", ".sft.")])
        self.model.set_adapter("policy")
        return self.trainable_count()

    def trainable(self) -> list:
        return [p for p in self.model.parameters() if p.requires_grad]

    def trainable_count(self) -> int:
        return sum(p.numel() for p in self.trainable())

    def release(self) -> None:
        """Drop every torch object this copy holds."""
        for name in ("model", "hf", "backbone", "tokenizer", "_lm_head"):
            self.__dict__.pop(name, None)


def _load_copy(model_id: str):
    """A fresh, private copy of the model and its tokenizer, float32."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if model_id == models.TINY_ID:
        tokenizer = models.build_tiny_tokenizer()
        return models.build_tiny_model(tokenizer), tokenizer
    if model_id != models.BUNDLED_ID:
        raise ValueError(f"RLHF training runs on {models.BUNDLED_ID} or {models.TINY_ID}, not '{model_id}'")
    folder = models.prepare_bundled()
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(
        str(folder), dtype=torch.float32, attn_implementation="sdpa", use_safetensors=True, local_files_only=True
    )
    return model, tokenizer


@contextlib.contextmanager
def training_copy(model_id: str, lora_r: int = 8, seed: int = 0) -> Iterator[TrainingCopy]:
    """A private LoRA-wrapped copy of ``model_id``, freed when the block ends
    (normally, by an error, or by a cancelled job)."""
    copy = TrainingCopy(model_id, lora_r, seed)
    try:
        yield copy
    finally:
        copy.release()
        del copy
        gc.collect()


# ------------------------------------------------------------------- tokens


def encode(tc: TrainingCopy, prompt: str, answer: str | None = None, eos: bool = True) -> tuple[list[int], int]:
    """Token ids of ``<bos> prompt answer <eos>`` and the prompt's length.

    Prompt and answer are tokenized separately, exactly as sampling sees them
    (the answer continues the prompt's tokens)."""
    ids = list(tc.tokenizer(prompt, add_special_tokens=True).input_ids)
    n_prompt = len(ids)
    if answer is not None:
        ids += list(tc.tokenizer(answer, add_special_tokens=False).input_ids)
        if eos:
            ids.append(tc.eos_id)
    return ids, n_prompt


def decode(tc: TrainingCopy, ids: Sequence[int]) -> str:
    return tc.tokenizer.decode(list(ids), skip_special_tokens=True)


def _pad(tc: TrainingCopy, seqs: Sequence[Sequence[int]]):
    """Right-padded ``input_ids`` and ``attention_mask``  # [batch, position]."""
    import torch

    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), tc.pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.as_tensor(list(s), dtype=torch.long)
        mask[i, : len(s)] = 1
    return ids, mask


def token_logprobs(tc: TrainingCopy, seqs: Sequence[Sequence[int]], starts: Sequence[int]):
    """Log-probability of every token from ``starts[i]`` on, given the tokens
    before it, under whatever adapter is active.

    Returns ``(logp, mask)``, both ``[batch, position - 1]``: entry ``t`` is
    token ``t + 1``; ``mask`` is 1 on the scored tokens (the answer), 0 on
    the prompt and the padding. Differentiable when grad is enabled.
    """
    import torch

    ids, attn = _pad(tc, seqs)
    target = ids[:, 1:]  # [batch, position - 1]
    positions = torch.arange(target.shape[1])[None]
    ends = attn.sum(1, keepdim=True) - 1  # [batch, 1]: one past each row's last real target
    first = torch.as_tensor(list(starts))[:, None] - 1  # [batch, 1]: the answer's first target
    mask = (positions >= first) & (positions < ends)  # [batch, position - 1]
    states = tc.backbone(input_ids=ids, attention_mask=attn).last_hidden_state[:, :-1]  # [batch, position - 1, hidden]
    # the LM head (262k x 640 on Gemma) costs more than the rest of the model:
    # run it on the scored positions only
    logits = tc.head(states[mask])  # [scored, vocab]
    picked = logits.gather(-1, target[mask][:, None])[:, 0] - torch.logsumexp(logits, dim=-1)  # [scored]
    logp = torch.zeros(mask.shape, dtype=picked.dtype).masked_scatter(mask, picked)
    mask = mask.float()
    return logp * mask, mask


def mean_logprob(tc: TrainingCopy, items: Sequence[tuple[Sequence[int], int]], batch: int = 8) -> float:
    """Mean log-probability per answer token (nats) over ``(ids, n_prompt)`` items."""
    import torch

    total, count = 0.0, 0.0
    with torch.no_grad():
        for i in range(0, len(items), batch):
            chunk = items[i : i + batch]
            logp, mask = token_logprobs(tc, [s for s, _ in chunk], [n for _, n in chunk])
            total += float(logp.sum())
            count += float(mask.sum())
    return total / max(count, 1.0)


# --------------------------------------------------------------------- SFT


def sft_train(
    tc: TrainingCopy,
    items: Sequence[tuple[Sequence[int], int]],
    steps: int,
    lr: float,
    batch: int,
    seed: int,
    on_step: Callable[[int, float], None] | None = None,
    check: Check = no_check,
) -> list[float]:
    """Fine-tune the active adapter on ``(ids, n_prompt)`` items: the mean
    negative log-likelihood of the answer tokens (and their ``<eos>``).

    Each step takes a batch of ``batch`` items in an order shuffled from
    ``seed``. Returns the loss of every step (nats per token, before the step).
    """
    import torch

    optimiser = torch.optim.AdamW(tc.trainable(), lr=lr, weight_decay=0.0)
    order: list[int] = []
    rng = np.random.default_rng(seed)
    losses = []
    for step in range(steps):
        check()
        while len(order) < batch:
            order += [int(i) for i in rng.permutation(len(items))]
        chunk = [items[i] for i in order[:batch]]
        order = order[batch:]
        logp, mask = token_logprobs(tc, [s for s, _ in chunk], [n for _, n in chunk])
        loss = -logp.sum() / mask.sum()
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
        if on_step:
            on_step(step, losses[-1])
    optimiser.zero_grad(set_to_none=True)
    del optimiser
    return losses


# ---------------------------------------------------------------- sampling


def sample(
    tc: TrainingCopy,
    prompts: Sequence[Sequence[int]],
    max_new: int,
    seed: Sequence[int] | int,
    temperature: float = 1.0,
    check: Check = no_check,
) -> list[list[int]]:
    """One continuation of each prompt (repeat a prompt for several), drawn
    from the active adapter's full distribution: no top-k or top-p, since the
    policy gradient needs the probabilities the samples were really drawn from.

    All prompts run as one left-padded batch: on a CPU a decoding step streams
    every weight from memory once, so 16 continuations cost little more than
    one. Returns each continuation's token ids, its ``<eos>`` included when the
    model ended it. ``seed`` (an int or a list of ints) fixes the draws.
    """
    import torch

    n = len(prompts)
    generator = torch.Generator().manual_seed(_seed_int(seed))
    width = max(len(p) for p in prompts)
    ids = torch.full((n, width), tc.pad_id, dtype=torch.long)  # [batch, position], padded on the left
    mask = torch.zeros((n, width), dtype=torch.long)
    for i, p in enumerate(prompts):
        ids[i, width - len(p) :] = torch.as_tensor(list(p), dtype=torch.long)
        mask[i, width - len(p) :] = 1
    positions = (mask.cumsum(1) - 1).clamp(min=0)  # each row counts from its own first token
    out: list[list[int]] = [[] for _ in range(n)]
    done = torch.zeros(n, dtype=torch.bool)
    past = None
    with torch.no_grad():
        for _ in range(max_new):
            check()
            result = tc.model(
                input_ids=ids, attention_mask=mask, position_ids=positions, cache=past, use_cache=True, logits_to_keep=1
            )
            past = result.cache
            logits = result.logits[:, -1].float() / temperature  # [batch, vocab]
            nxt = torch.multinomial(torch.softmax(logits, -1), 1, generator=generator)[:, 0]  # [batch]
            for i in range(n):
                if not done[i]:
                    out[i].append(int(nxt[i]))
            done |= nxt == tc.eos_id
            if bool(done.all()):
                break
            ids = nxt[:, None]
            mask = torch.cat([mask, torch.ones((n, 1), dtype=mask.dtype)], 1)
            positions = positions[:, -1:] + 1
    del past, result
    return out


def _seed_int(seed: Sequence[int] | int) -> int:
    """One 63-bit seed from a list of ints (numpy's SeedSequence mixes them)."""
    entropy = [int(s) for s in seed] if isinstance(seed, (list, tuple)) else int(seed)
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0] >> 1)


# ---------------------------------------------------- reward model features


def features(tc: TrainingCopy, items: Sequence[tuple[Sequence[int], Sequence[int]]], batch: int = 32) -> np.ndarray:
    """Reward-model features of ``(prompt ids, answer ids)`` items: the frozen
    base model's last-layer states (after its final norm), averaged over the
    answer's tokens  # [item, hidden].

    Only the answer is pooled: answers to one prompt share the prompt, which
    would dilute what distinguishes them. An empty answer (the model ended at
    once) is read as its end-of-text token."""
    import torch

    rows = []
    with torch.no_grad(), tc.base():
        for i in range(0, len(items), batch):
            chunk = [(list(p), list(a) if len(a) else [tc.eos_id]) for p, a in items[i : i + batch]]
            ids, attn = _pad(tc, [p + a for p, a in chunk])
            states = tc.backbone(input_ids=ids, attention_mask=attn).last_hidden_state  # [batch, position, hidden]
            pool = torch.zeros(ids.shape, dtype=states.dtype)  # [batch, position]
            for j, (p, a) in enumerate(chunk):
                pool[j, len(p) : len(p) + len(a)] = 1.0 / len(a)
            rows.append(torch.einsum("bp,bph->bh", pool, states).numpy())
    return np.concatenate(rows).astype(np.float32)


@dataclass(frozen=True)
class LinearHead:
    """A fitted reward head: ``r(x) = w · (x - mean) / scale + b``."""

    weight: np.ndarray  # [hidden]
    mean: np.ndarray  # [hidden]
    scale: np.ndarray  # [hidden]
    losses: tuple[float, ...]  # Bradley-Terry loss per iteration (nats per pair)

    def __call__(self, feats: np.ndarray) -> np.ndarray:
        """Rewards  # [n] for features  # [n, hidden]."""
        return ((feats - self.mean) / self.scale) @ self.weight


def fit_bradley_terry(
    chosen: np.ndarray, rejected: np.ndarray, l2: float = 1e-3, iters: int = 200, lr: float = 0.05
) -> LinearHead:
    """A linear reward head fit with the Bradley–Terry loss
    ``-log σ(r(chosen) - r(rejected))`` plus ``l2 · |w|²``.

    ``chosen`` and ``rejected`` are ``[pair, hidden]``. Features are
    standardised first so one learning rate suits any model. Full-batch Adam:
    a few dozen pairs need no mini-batches, data loaders or trainer. (A bias
    would cancel in every difference, so there is none.)
    """
    import torch

    both = np.concatenate([chosen, rejected])
    mean = both.mean(0)
    scale = both.std(0) + 1e-6
    diff = torch.as_tensor((chosen - rejected) / scale, dtype=torch.float32)  # [pair, hidden]
    w = torch.zeros(diff.shape[1], requires_grad=True)
    opt = torch.optim.Adam([w], lr=lr)
    losses = []
    for _ in range(iters):
        margin = diff @ w  # [pair]: r(chosen) - r(rejected)
        loss = torch.nn.functional.softplus(-margin).mean()  # softplus(-m) = -log σ(m)
        losses.append(loss.item())
        opt.zero_grad()
        (loss + l2 * (w * w).sum()).backward()
        opt.step()
    return LinearHead(w.detach().numpy().astype(np.float32), mean.astype(np.float32), scale.astype(np.float32), tuple(losses))


# ------------------------------------------------------------------- RLOO


@dataclass(frozen=True)
class Batch:
    """One step's samples: ``groups`` prompts x ``k`` continuations each, flat
    in group order (group 0's k answers, then group 1's, ...)."""

    prompts: tuple[tuple[int, ...], ...]  # [sample] prompt ids
    answers: tuple[tuple[int, ...], ...]  # [sample] answer ids (with <eos> if the model ended)


def rloo_update(
    tc: TrainingCopy,
    optimiser: Any,
    batch: Batch,
    rewards: np.ndarray,
    beta: float,
) -> dict[str, float]:
    """One REINFORCE leave-one-out step on the ``policy`` adapter.

    ``rewards`` is ``[group, k]`` (the RM's score of each sample, in the
    batch's order). Each
    sample's return is its reward minus ``beta`` times its KL from the
    reference (``sft``): Σ_t log π(y_t) − log π_ref(y_t), in nats per answer.
    Its advantage is that return minus the mean return of the *other* k − 1
    samples of the same prompt; the loss is −advantage · log π(answer).
    Returns the step's mean KL and the loss.
    """
    import torch

    seqs = [list(p) + list(a) for p, a in zip(batch.prompts, batch.answers)]
    starts = [len(p) for p in batch.prompts]
    groups, k = rewards.shape
    with torch.no_grad(), tc.adapter("sft"):
        ref_logp, _ = token_logprobs(tc, seqs, starts)
    logp, mask = token_logprobs(tc, seqs, starts)  # [sample, position - 1], with grad
    seq_logp = logp.sum(1)  # [sample]
    kl = (logp.detach() - ref_logp).sum(1).view(groups, k)  # [group, k] nats per answer
    returns = torch.as_tensor(rewards, dtype=torch.float32) - beta * kl
    baseline = (returns.sum(1, keepdim=True) - returns) / (k - 1)  # [group, k]: mean of the others
    advantage = (returns - baseline).view(-1)  # [sample]
    loss = -(advantage * seq_logp).mean()
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    return {"kl": kl.mean().item(), "loss": loss.item(), "tokens": mask.sum().item() / len(seqs)}


def kl_per_answer(tc: TrainingCopy, items: Sequence[tuple[Sequence[int], Sequence[int]]]) -> np.ndarray:
    """Σ_t log π_policy(y_t) − log π_sft(y_t) for ``(prompt ids, answer ids)``
    sampled from the policy  # [item], nats: a one-sample estimate of
    KL(policy ‖ reference) per answer."""
    import torch

    seqs = [list(p) + list(a) for p, a in items]
    starts = [len(p) for p, _ in items]
    with torch.no_grad():
        with tc.adapter("policy"):
            logp, _ = token_logprobs(tc, seqs, starts)
        with tc.adapter("sft"):
            ref, _ = token_logprobs(tc, seqs, starts)
    return (logp - ref).sum(1).numpy().astype(np.float64)


def mean_and_se(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean, standard deviation (n − 1) and standard error of the mean."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return math.nan, math.nan, math.nan
    std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    return float(arr.mean()), std, std / math.sqrt(arr.size)
