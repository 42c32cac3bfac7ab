"""Lessons page: step through the guided lessons in examples/lessons/."""

from __future__ import annotations

import streamlit as st

from components import figures
from components.generation import Settings
from components.homophones import find_candidates, load_homophones, parse_extra, relative_probabilities, variants
from components.icl import build_prompt, load_tasks, shuffle_answers
from components.inference import AnalysisError
from components.sampling import top_tokens
from components.lessons import Lesson, Probe, check_claim, load_lessons, token_pieces, vocab_id
from components.pages import FIGURE_CHOICES, PAGES, figure_key, needs_mask_views
from components.rlhf_jobs import latest_result
from components.ui import charts, data, shell
from components.ui.charts import head_figure, stage_figures
from components.ui.shell import tr

#: what opening a lesson sets and a shared link may set otherwise
LESSON_KEYS = ("text", "layer", "head", "view", "hide_sink", "temperature", "pos", "seed", "greedy", "gen_steps",
               "icl_task")
#: the random sequence of the induction search, as long as the few-shot page's
INDUCTION_LENGTH = 30


def apply_lesson(lesson: Lesson) -> None:
    """Open the lesson's view on its page: the sentence (or prompt, or task),
    layer, head, position, units, sink toggle, temperature and, on the
    generation page, the settings and number of steps."""
    state = st.session_state
    if lesson.page not in ("icl", "rlhf"):  # a task, not a sentence: leave the class's sentence alone
        state["text"] = lesson.text
    state["layer"], state["head"], state["view"] = lesson.layer, lesson.head, lesson.view
    state["hide_sink"] = lesson.hide_sink
    state["temperature"] = lesson.temperature
    if lesson.page in ("explorer", "mask", "layers"):
        shell.pin("pos", lesson.pos)
        shell.pin("mask_pos", lesson.pos)
    if lesson.page == "layers":
        state["ko_target"], state["ko_versus"], state["track"] = lesson.ko_target, lesson.ko_versus, lesson.track
    if lesson.figure in sum(FIGURE_CHOICES.values(), ()):
        state[figure_key(lesson.figure)] = lesson.figure
    if lesson.page == "generate":
        state["greedy"], state["seed"], state["gen_top_k"], state["top_p"] = lesson.greedy, lesson.seed, 0, 1.0
        shell.pin("gen_steps", lesson.gen_steps)
    elif lesson.page == "homophones":
        state["hp_extra"] = ""  # the lesson's numbers are for the table's spellings
        state.pop("hp_word", None)  # the page then takes the sentence's first kana word
    elif lesson.page == "icl":
        state["icl_task"], state["seed"], state["icl_shuffled"] = lesson.icl_task, lesson.seed, False
        state.pop("_icl_applied", None)  # the page fills the boxes with the task's demonstrations
    elif lesson.page == "rlhf":
        state["rlhf_task"], state["rlhf_run"] = lesson.rlhf_task, ""  # the page opens the task's prepared run
    state["reveal"] = False
    state["_lesson_applied"] = lesson.id


def _step(delta: int) -> None:
    ids = [lesson.id for lesson in load_lessons()]
    i = ids.index(st.session_state["lesson"]) if st.session_state.get("lesson") in ids else 0
    st.session_state["lesson"] = ids[(i + delta) % len(ids)]


def _open_view(page: str) -> None:
    st.session_state["_open_page"] = page


# ------------------------------------------------------------------ claims


def app_probe(loaded) -> Probe:
    """The claims' view of the current model, through the app's caches (shared by every session)."""
    model_id = loaded.model_id
    return Probe(
        analyze=lambda text, unmasked: data.get_analysis(model_id, text, mask_views=unmasked),
        token_id=lambda piece: vocab_id(loaded, piece),
        generate=lambda prompt, steps, settings: data.get_generation(model_id, prompt, steps, settings),
        scores=lambda texts: data.get_scores(model_id, tuple(texts)),
        curve=lambda pairs, query, answer: data.get_curve(model_id, tuple(pairs), query, answer),
        induction=lambda length, seed: data.get_induction(model_id, length, seed)[0],
        pieces=lambda word: token_pieces(loaded, word),
        lens=lambda text, track: data.get_lens(model_id, text, tuple(track)),
        knockouts=lambda text, target, versus, position: data.get_knockouts(model_id, text, target, versus, position),
        rlhf=lambda task_id: prepared_run(task_id, model_id),
    )


def prepared_run(task_id: str, model_id: str):
    """The task's finished RLHF run on this model, as the RLHF page opens it;
    the app never trains for a lesson (the RLHF page's button does)."""
    return latest_result(task_id, "run", model_id)


def render_claims(lesson: Lesson, loaded) -> None:
    """Each claim of the lesson, checked on the current model with its numbers."""
    probe = app_probe(loaded)
    with st.expander(shell.md_escape(tr("lesson_check", model=loaded.model_id))):
        for claim in lesson.claims:
            result = check_claim(claim, lesson, probe)  # never raises: a claim that cannot be checked says why
            shell.line(f"{'✓' if result.ok else '✗'} {result.summary(shell.lang())}")


# ----------------------------------------------------------------- figures


def _generation_settings() -> Settings:
    """The generation settings the lesson page's controls (shared with the generation page) hold."""
    state = st.session_state
    return Settings(
        temperature=float(state.get("temperature", 1.0)), top_k=int(state.get("gen_top_k", 0)),
        top_p=float(state.get("top_p", 1.0)), seed=int(state.get("seed", 0)), greedy=bool(state.get("greedy", False)),
    )


def _generation(lesson: Lesson, loaded):
    return data.get_generation(loaded.model_id, lesson.text, lesson.gen_steps, _generation_settings())


def generation_figures(lesson: Lesson, loaded) -> list:
    """The distributions the first and the last token were drawn from (the chosen one in red)."""
    gen = _generation(lesson, loaded)
    steps = list(dict.fromkeys([0, len(gen.steps) - 1])) if gen.steps else []
    return [
        figures.next_token_figure(
            gen.steps[i].candidates, title=f"{i + 1}. " + tr("gen_drawn_from", token=gen.steps[i].text,
                                                             prob=f"{gen.steps[i].prob:.1%}"),
            value_name=tr("prob"), highlight=gen.steps[i].id, font_size=shell.font_size(),
        )
        for i in steps
    ]


def spelling_figures(lesson: Lesson, loaded) -> list:
    """For each sentence, its kana word written every way the homophone table knows, scored by the model."""
    out = []
    for text in lesson.sentences:
        analysis = data.get_analysis(loaded.model_id, text)
        candidate = next((c for c in find_candidates(analysis.morphemes, load_homophones()) if c.spellings), None)
        if candidate is None:
            continue
        texts = variants(text, analysis.morphemes[candidate.morpheme], candidate.spellings)
        logprobs = data.get_scores(loaded.model_id, texts)
        out.append(figures.sentence_scores_figure(
            texts, relative_probabilities(logprobs).tolist(), list(logprobs),
            title=f"「{text}」 " + tr("hp_scores_title", word=candidate.surface), value_name=tr("relative_prob"),
            font_size=shell.font_size(),
        ))
    return out


def few_shot_figures(lesson: Lesson, loaded) -> list:
    """The task's few-shot curve with the shuffled control, and every head's induction score."""
    task = next(t for t in load_tasks() if t.id == lesson.icl_task)
    seed = int(st.session_state.get("seed", lesson.seed))
    curve = data.get_curve(loaded.model_id, task.pairs, task.query, task.answer)
    shuffled = data.get_curve(loaded.model_id, shuffle_answers(task.pairs, seed), task.query, task.answer)
    fs = shell.font_size()
    few_shot = figures.few_shot_figure(
        [p.n_demos for p in curve], [p.answer_prob for p in curve], [p.top_text for p in curve],
        [p.top_prob for p in curve], [p.answer_prob for p in shuffled],
        title=tr("icl_curve_title"), names=(tr("icl_answer_prob"), tr("icl_top_prob"), tr("icl_shuffled_prob")),
        axis_x=tr("icl_n_demos"), value_name=tr("prob"), font_size=fs,
    )
    scores = data.get_induction(loaded.model_id, INDUCTION_LENGTH, seed)[0]  # [layer, head]
    induction = figures.matrix_figure(
        scores, [str(i) for i in range(scores.shape[0])], [str(i) for i in range(scores.shape[1])],
        title=tr("induction_scores_title"), value_name=tr("induction_score"),
        axis_rows=tr("layer"), axis_columns=tr("head"), font_size=fs,
    )
    return [few_shot, induction]


def lesson_figures(lesson: Lesson, loaded) -> list:
    """The lesson's view, drawn inline."""
    if lesson.page == "generate":
        return generation_figures(lesson, loaded)
    if lesson.page == "homophones":
        return spelling_figures(lesson, loaded)
    if lesson.page == "icl":
        return few_shot_figures(lesson, loaded)
    if lesson.page == "layers":
        return layer_figures(lesson, loaded)
    if lesson.page == "rlhf":
        run = prepared_run(lesson.rlhf_task, loaded.model_id)
        return [] if run is None else [charts.rlhf_reward_figure(run.policy.steps), charts.rlhf_evaluation_figure(run.policy, run.settings.best_of)]
    out = []
    mask_views = needs_mask_views(lesson.page, lesson.figure) and loaded.capture_ok
    for text in lesson.sentences:
        a = data.get_analysis(loaded.model_id, text, mask_views)
        layer, head = min(lesson.layer, a.n_layers - 1), min(lesson.head, a.n_heads - 1)
        pos = min(lesson.pos, a.n_tokens - 1)
        if lesson.figure == "detail":
            title = f"「{text}」 " + tr("heatmap_title", layer=layer, head=head)
            out.append(head_figure(a, layer, head, lesson.view, lesson.hide_sink, title=title)[1])
        elif lesson.figure == "stages" and mask_views:
            out.extend(stage_figures(a, layer, head))
        elif lesson.figure == "shift" and mask_views:
            out.extend(charts.masked_unmasked_bars(a, pos))
        elif lesson.figure == "next":
            out.append(charts.next_figure(a, pos, float(st.session_state.get("temperature", 1.0))))
        elif lesson.figure == "shift":  # a model without the unmasked run: its masked prediction only
            out.append(charts.next_figure(a, pos, label=tr("with_mask")))
    return out


def layer_figures(lesson: Lesson, loaded) -> list:
    """The logit lens with its tracked words, or the knockout map, of the lesson's sentence."""
    a = data.get_analysis(loaded.model_id, lesson.text)
    pos = min(lesson.pos, a.n_tokens - 1)
    if lesson.figure == "knockout":
        target = lesson.ko_target or top_tokens(a.next_logits, pos, a.labels, 1.0, 1)[0].text
        ko = data.get_knockouts(loaded.model_id, lesson.text, target, lesson.ko_versus or None, pos)
        # the page opens with the same knockouts already shown
        st.session_state["_knockout_for"] = (loaded.model_id, lesson.text, target, lesson.ko_versus or None, pos)
        return [charts.knockout_map(a, ko)]
    lens = data.get_lens(loaded.model_id, lesson.text, tuple(parse_extra(lesson.track)))
    grid, track = charts.lens_figures(a, lens, pos)
    return [grid, track] if lesson.track else [grid]


def render_subject(lesson: Lesson, loaded) -> None:
    """What the lesson reads: its sentences, the prompt and the text generated so far, or the few-shot prompt."""
    if lesson.page == "icl":
        task = next(t for t in load_tasks() if t.id == lesson.icl_task)
        st.code(build_prompt(task.pairs, task.query).text, language=None)
    elif lesson.page == "rlhf":
        run = prepared_run(lesson.rlhf_task, loaded.model_id) if loaded is not None else None
        if run is None:
            shell.say(tr("claim_rlhf_untrained", task=lesson.rlhf_task))
        else:
            shell.line(f"「{lesson.text}」…")  # the texts before and after training come with the answer
    elif lesson.page == "generate" and loaded is not None:
        try:
            gen = _generation(lesson, loaded)
            shell.line(f"{tr('gen_text')}: 「{gen.prompt}」{gen.generated_text}")
        except AnalysisError as exc:
            st.warning(shell.md_escape(shell.error_text(exc)))
    else:
        shell.line(" / ".join(f"「{s}」" for s in lesson.sentences))


def render_rlhf_texts(lesson: Lesson, loaded) -> None:
    """Continuations before and after policy training: what the answer talks about."""
    run = prepared_run(lesson.rlhf_task, loaded.model_id)
    if run is not None:
        for label, evaluation in ((tr("rlhf_eval_reference"), run.policy.reference), (tr("rlhf_eval_policy"), run.policy.policy)):
            shell.line(f"{label}: " + " / ".join(f"「{s.prompt}」{s.text}" for s in evaluation.samples[:3]))


def render_controls(lesson: Lesson) -> None:
    """The settings a lesson asks the class to change, on the lesson page itself."""
    if lesson.figure == "next":
        st.slider(tr("temperature"), 0.1, 2.0, step=0.05, key="temperature", help=tr("temperature_help"))
    elif lesson.page == "generate":
        c1, c2, c3 = st.columns([3, 2, 2], vertical_alignment="bottom")
        c1.slider(tr("temperature"), 0.1, 2.0, step=0.05, key="temperature", help=tr("temperature_help"))
        c2.number_input(tr("seed"), min_value=0, max_value=2**31 - 1, step=1, key="seed", help=tr("seed_help"))
        c3.toggle(tr("greedy"), key="greedy", help=tr("greedy_help"))


def _together(lesson: Lesson) -> bool:
    """Whether the lesson's figures are one comparison, kept side by side even on a projector."""
    return lesson.page in ("explorer", "mask") and (len(lesson.sentences) > 1 or lesson.figure in ("stages", "shift"))


def render() -> None:
    lessons = load_lessons()
    ids = [lesson.id for lesson in lessons]
    if st.session_state.get("lesson") not in ids:
        st.session_state["lesson"] = ids[0]
    lesson = lessons[ids.index(st.session_state["lesson"])]
    if st.session_state.get("_lesson_applied") != lesson.id:
        apply_lesson(lesson)
        linked = st.session_state.pop("_lesson_link", None)
        if linked and st.session_state.get("lesson") == lesson.id:  # a shared link restores exactly its view
            shell.apply_link({k: v for k, v in linked.items() if k in LESSON_KEYS})
    lang = shell.lang()

    projector = shell.projector()
    if not projector:
        st.title(tr("lessons_title"))
    c1, c2, c3, c4 = st.columns([1, 6, 1, 1] if projector else [1, 6, 1, 0.01], vertical_alignment="bottom")
    c1.button(tr("previous"), key="lesson_prev", on_click=_step, args=(-1,), width="stretch")
    c2.selectbox(tr("lesson"), ids, key="lesson", format_func=lambda i: lessons[ids.index(i)].get("title", lang),
                 label_visibility="collapsed" if projector else "visible")
    c3.button(tr("next"), key="lesson_next", on_click=_step, args=(1,), width="stretch")
    if projector:  # one line of controls, the question, then the figures on the first screen
        with c4:
            shell.render_share()
    else:
        st.header(shell.md_escape(lesson.get("title", lang)))
    loaded = shell.load_current_model()
    render_controls(lesson)
    question = tr("lesson_question") + " " + lesson.get("question", lang)
    if projector:
        shell.say(question)
    else:
        render_subject(lesson, loaded)
        st.markdown(f"**{tr('lesson_look')}** " + shell.md_escape(lesson.get("look", lang)))
        st.info(shell.md_escape(question))
    if loaded is None:
        return
    try:
        figs = lesson_figures(lesson, loaded)
    except AnalysisError as exc:
        st.warning(shell.md_escape(shell.error_text(exc)))
        figs = []
    if figs:
        charts.render_figures(figs, "lesson_fig", together=_together(lesson))
    if projector:
        render_subject(lesson, loaded)
        shell.say(tr("lesson_look") + " " + lesson.get("look", lang))
    if st.toggle(tr("lesson_reveal"), key="reveal"):
        shell.callout("success", lesson.get("answer", lang))
        if lesson.page == "rlhf":
            render_rlhf_texts(lesson, loaded)
    render_claims(lesson, loaded)
    st.button(tr("lesson_open"), key="lesson_open", on_click=_open_view, args=(lesson.page,))
    target = st.session_state.pop("_open_page", None)
    if target:
        st.switch_page(PAGES[target])
    shell.render_licence(loaded)


if __name__ == "__main__":  # run as a page by st.navigation
    render()
