"""RLHF in the classroom: InstructGPT's three steps on the bundled model.
Step 1 fine-tunes on demonstrations (SFT), step 2 fits a reward model to the
class's ranking, step 3 optimises the policy against it (RLOO, with a KL
penalty). Training runs in the process's one job queue, on a private copy of
the model; finished runs are files that any session opens."""

from __future__ import annotations

import dataclasses

import streamlit as st

from components.rlhf import (
    BUNDLED_ID,
    LETTERS,
    TINY_ID,
    RlhfInputError,
    RlhfRun,
    RlhfSettings,
    format_ranking,
    load_task,
    parse_ranking,
    parse_demos,
    ranking_pairs,
    task_ids,
)
from components.rlhf_jobs import QUEUE, is_key, latest_result, load_result
from components.ui import charts, shell
from components.ui.shell import tr

#: places a student can give an answer (ties share a place)
PLACES = (1, 2, 3, 4)
#: the stages a running job reports, each with its words in i18n
STAGES = ("queued", "load", "sft", "sample", "reward", "policy", "evaluate", "done")


def current_task():
    """The chosen task, with the demonstrations as the teacher edited them."""
    ids = task_ids()
    if st.session_state.get("rlhf_task") not in ids:
        st.session_state["rlhf_task"] = ids[0]
    task = load_task(st.session_state["rlhf_task"])
    if st.session_state.get("_rlhf_demos_for") != task.id:  # a new task fills the box with its demonstrations
        st.session_state["rlhf_demos"] = "\n".join(f"{d.prompt}→{d.answer}" for d in task.demos)
        st.session_state["_rlhf_demos_for"] = task.id
    typed = parse_demos(st.session_state.get("rlhf_demos", ""))
    return dataclasses.replace(task, demos=typed) if typed and typed != task.demos else task


def settings(model_id: str) -> RlhfSettings:
    """The run's settings: the page's β, on the model the page uses (the
    bundled Gemma or the untrained tiny model; another model trains Gemma)."""
    model = model_id if model_id in (BUNDLED_ID, TINY_ID) else BUNDLED_ID
    return RlhfSettings(model_id=model, beta=float(st.session_state.get("rlhf_beta", RlhfSettings.beta)))


def show_ranking(run: RlhfRun) -> None:
    """Set the A-D controls to the ranking a finished run was trained with,
    once per run, so that a link opens the run as it was ranked."""
    if st.session_state.get("_rlhf_ranks_for") == run.key:
        return
    for place, group in enumerate(parse_ranking(run.reward.ranking), start=1):
        for letter in group:
            st.session_state[f"rank_{letter}"] = min(place, PLACES[-1])
    st.session_state["_rlhf_ranks_for"] = run.key


def ranking_groups() -> tuple[tuple[str, ...], ...]:
    """The class's places for A-D as a ranking: same place, a tie."""
    places = {letter: int(st.session_state.get(f"rank_{letter}") or 4) for letter in LETTERS}
    return tuple(tuple(sorted(l for l in LETTERS if places[l] == p)) for p in PLACES if any(places[l] == p for l in LETTERS))


# ----------------------------------------------------------------- the job


def follow(status) -> None:
    st.session_state["_rlhf_job"] = status.id


@st.fragment(run_every=1.0)
def render_job() -> None:
    """The job this session started: its place in the queue, its progress,
    a cancel button; once done, the page shows its result."""
    job_id = st.session_state.get("_rlhf_job")
    status = QUEUE.status(job_id) if job_id else None
    if status is None:
        return
    if status.state == "done":
        st.session_state.pop("_rlhf_job", None)
        st.session_state["rlhf_run"] = status.key  # the link now opens this result
        st.rerun()
    if status.state in ("cancelled", "failed"):
        st.session_state.pop("_rlhf_job", None)
        st.warning(shell.md_escape(tr("rlhf_failed", detail=status.error) if status.error else tr("rlhf_cancelled")))
        return
    if status.place > 0:
        st.info(tr("rlhf_queued", place=status.place))
    stage = tr(f"rlhf_stage_{status.stage}") if status.stage in STAGES else status.stage
    st.progress(min(max(status.fraction, 0.0), 1.0), text=tr("rlhf_running", stage=stage))
    if status.steps:
        charts.show(charts.rlhf_reward_figure(status.steps), "rlhf_live")
    if st.button(tr("rlhf_cancel"), key="rlhf_cancel"):
        QUEUE.cancel(status.id)
        st.rerun()


def submit(**kwargs) -> None:
    try:
        follow(QUEUE.submit(**kwargs))
    except RlhfInputError as exc:
        st.session_state["_rlhf_error"] = str(exc)


# ---------------------------------------------------------------- figures


def texts(samples, reward: bool = True, labels=None) -> None:
    """Samples as the class reads them: 「prompt」continuation (… if cut
    short), with the label (A-D) before it and the reward after it."""
    for i, s in enumerate(samples):
        line = (f"{labels[i]}: " if labels else "") + f"「{s.prompt}」{s.text}" + ("" if s.ended else " …")
        if reward and s.reward is not None:
            line += f"（{tr('rlhf_reward')} {s.reward:+.2f}）"
        shell.line(line)


# ----------------------------------------------------------------- steps


def _step_header(n: int) -> None:
    """A step's heading: large on a laptop, one compact line in projector view."""
    if shell.projector():
        st.markdown("#### " + shell.md_escape(tr(f"rlhf_step{n}")))
    else:
        st.header(tr(f"rlhf_step{n}"), anchor=False)


def _picture_then(picture: str, main) -> None:
    """The step's picture in words, then its figures and controls; in
    projector view the figures come first, so they are on the first screen."""
    if shell.projector():
        main()
        shell.say(picture)
    else:
        shell.say(picture)
        main()


def render_step1(task, result, run_settings: RlhfSettings) -> None:
    _step_header(1)

    def main() -> None:
        if result is not None:
            render_sft(result.sft)
        box = st.expander(tr("rlhf_demos")) if shell.projector() and result is not None else st.container()
        box.text_area(tr("rlhf_demos"), key="rlhf_demos", height=160, help=tr("rlhf_demos_help"), max_chars=4000)
        box.button(tr("rlhf_run_sft"), key="rlhf_run_sft", type="primary", on_click=submit,
                   kwargs={"task": task, "settings": run_settings, "kind": "sft"})

    _picture_then(tr("rlhf_step1_picture"), main)


def render_sft(sft) -> None:
    """Step 1's result: the log-probabilities before and after (beside the
    samples; in projector view, across the screen above them)."""
    c1, c2 = (st.container(), st.container()) if shell.projector() else st.columns(2)
    charts.show(charts.rlhf_sft_figure(sft), "rlhf_sft", container=c1)
    with c2:
        shell.label(tr("rlhf_sample_title", prompt=sft.sample_prompt))
        st.caption(tr("rlhf_before"))
        texts([sft.sample_before], reward=False)
        st.caption(tr("rlhf_after_sft"))
        texts([sft.sample_after], reward=False)
    shell.say(tr("rlhf_sft_reading", demo_before=f"{sft.demo_logprob_before:.2f}", demo_after=f"{sft.demo_logprob_after:.2f}",
                 held_before=f"{sft.heldout_logprob_before:.2f}", held_after=f"{sft.heldout_logprob_after:.2f}",
                 params=f"{sft.trainable_params:,}", seconds=f"{sft.seconds:.0f}",
                 icl_reading=tr("rlhf_icl_better" if sft.icl_heldout_logprob > sft.heldout_logprob_after else "rlhf_icl_worse",
                                icl=f"{sft.icl_heldout_logprob:.2f}")))


def render_step2(task, result, run_settings: RlhfSettings) -> None:
    _step_header(2)
    if result is None:
        shell.say(tr("rlhf_step2_picture"))
        shell.say(tr("rlhf_need_sft"))
        return

    def main() -> None:
        candidates = result.sft.candidates
        shell.label(tr("rlhf_rank_title", prompt=task.rank_prompt))
        for letter, sample in zip(LETTERS, candidates):
            c1, c2 = st.columns([2, 3], vertical_alignment="center")  # room for all four places, even at 1024 px
            st.session_state.setdefault(f"rank_{letter}", PLACES[-1])  # unranked answers share the last place
            c1.segmented_control(tr("rlhf_place", letter=letter), PLACES, key=f"rank_{letter}",
                                 format_func=lambda p: tr("rlhf_place_n", n=p))
            with c2:
                texts([sample], reward=False, labels=[letter])
        groups = ranking_groups()
        pairs = ranking_pairs(groups)
        shell.say(tr("rlhf_pairs", ranking=format_ranking(groups), n=len(pairs),
                     pairs="、".join(f"{b} > {w}" for b, w in pairs) or "—"))
        st.slider(tr("rlhf_beta"), 0.0, 2.0, step=0.05, key="rlhf_beta", help=tr("rlhf_beta_help"))
        st.button(tr("rlhf_run_all"), key="rlhf_run_all", type="primary", on_click=submit, disabled=not pairs,
                  kwargs={"task": task, "settings": run_settings, "kind": "run", "ranking": format_ranking(groups),
                          "candidates": tuple(s.text for s in candidates)})
        if isinstance(result, RlhfRun):
            render_reward(result)

    _picture_then(tr("rlhf_step2_picture"), main)


def render_reward(run: RlhfRun) -> None:
    reward = run.reward
    shell.label(tr("rlhf_rm_title", ranking=reward.ranking))
    texts(reward.candidates, labels=LETTERS)
    right = [p for p in reward.train_pairs if p.source == "class"]
    shell.say(tr("rlhf_rm_reading", train=f"{reward.train_accuracy:.0%}", held=f"{reward.heldout_accuracy:.0%}",
                 n_held=len(reward.heldout_pairs), class_ok=sum(p.correct for p in right), class_n=len(right),
                 seconds=f"{reward.fit_seconds:.2f}"))
    letters = {sample.text: letter for letter, sample in zip(LETTERS, reward.candidates)}
    if right:  # which of the class's pairs the reward model orders as the class did
        shell.line("  ".join(f"{'✓' if p.correct else '✗'} {letters.get(p.chosen, '?')} > {letters.get(p.rejected, '?')}"
                          f"（{p.reward_chosen:+.2f} / {p.reward_rejected:+.2f}）" for p in right))
    shell.label(tr("rlhf_fresh_title"))
    texts(reward.fresh)


def render_step3(result) -> None:
    _step_header(3)
    if not isinstance(result, RlhfRun):
        shell.say(tr("rlhf_step3_picture"))
        shell.say(tr("rlhf_need_run"))
        return
    policy = result.policy

    def main() -> None:
        charts.render_figures([charts.rlhf_reward_figure(policy.steps), charts.rlhf_kl_figure(policy.steps)],
                              "rlhf_steps", names=[tr("rlhf_reward_title"), tr("rlhf_kl_title")])
        charts.show(charts.rlhf_evaluation_figure(policy, result.settings.best_of), "rlhf_eval")
        significant = policy.gain > 2 * policy.gain_se
        shell.explain(tr("rlhf_eval_reading", before=f"{policy.reference.mean:.2f}", after=f"{policy.policy.mean:.2f}",
                         gain=f"{policy.gain:+.2f}", se=f"{policy.gain_se:.2f}", kl=f"{policy.policy.kl:.2f}",
                         best=f"{policy.best_of_n.mean:.2f}", n=result.settings.best_of,
                         bound=f"{policy.best_of_n_kl_bound:.2f}", beta=f"{policy.beta:g}",
                         verdict=tr("rlhf_significant" if significant else "rlhf_not_significant",
                                    ratio=f"{policy.gain / policy.gain_se:.1f}" if policy.gain_se > 0 else "∞")))
        steps = policy.steps
        if steps:
            shell.label(tr("rlhf_examples_title"))
            for label, step in zip((tr("rlhf_start"), tr("rlhf_middle"), tr("rlhf_end")),
                                   (steps[0], steps[len(steps) // 2], steps[-1])):
                st.caption(f"{label}（{tr('rlhf_step')} {step.step}）")
                texts(step.examples[:3])

    _picture_then(tr("rlhf_step3_picture") + " " + tr("rlhf_algorithm", algorithm=policy.algorithm) + " "
                  + tr("rlhf_vs_ppo"), main)
    shell.say(tr("rlhf_hacking"))


def default_step(result) -> int:
    """The step a projector opens on: the furthest one there is something to show for."""
    return 3 if isinstance(result, RlhfRun) else 2 if result is not None else 1


def render() -> None:
    loaded = shell.page_start("rlhf_title", "rlhf_intro", sentence_box=False)
    if loaded is None:
        return
    projector = shell.projector()
    toy = tr("rlhf_toy" if loaded.model_id != TINY_ID else "rlhf_toy_tiny")
    if not projector:
        st.warning(toy)
    names = {tid: load_task(tid).title(shell.lang()) for tid in task_ids()}
    picker, step_picker = st.columns([2, 3], vertical_alignment="bottom") if projector else (st.container(), None)
    picker.selectbox(tr("rlhf_task"), list(names), key="rlhf_task", format_func=names.get)
    task = current_task()
    if not projector:
        shell.say(task.note(shell.lang()))
    error = st.session_state.pop("_rlhf_error", None)
    if error:
        st.warning(shell.md_escape(error))
    render_job()
    run_settings = settings(loaded.model_id)
    key = st.session_state.get("rlhf_run")
    result = load_result(key) if key and is_key(key) else None
    if result is None or result.task.id != task.id:  # else the run the teacher prepared for this task
        model = run_settings.model_id
        result = latest_result(task.id, "run", model) or latest_result(task.id, "sft", model)
    if isinstance(result, RlhfRun):
        show_ranking(result)
    if projector:  # one step at a time, its figure on the first screen
        if st.session_state.get("rlhf_step") is None:  # shown selected, so the class sees where it is
            st.session_state["rlhf_step"] = default_step(result)
        step = step_picker.segmented_control(tr("rlhf_step_pick"), (1, 2, 3), key="rlhf_step",
                                             format_func=lambda n: tr(f"rlhf_step{n}_short"))
        step = step or default_step(result)
        if step == 1:
            render_step1(task, result, run_settings)
        elif step == 2:
            render_step2(task, result, run_settings)
        else:
            render_step3(result)
    else:
        render_step1(task, result, run_settings)
        render_step2(task, result, run_settings)
        render_step3(result)
    if result is not None:
        created = result.created.replace("T", " ").removesuffix("Z")[:16] + " UTC"
        st.caption(shell.md_escape(tr("rlhf_showing", created=created, run=result.key)))
    if projector:
        shell.say(task.note(shell.lang()))
        st.warning(toy)
    shell.sync_url()
    shell.render_licence(loaded)


if __name__ == "__main__":  # run as a page by st.navigation
    render()
