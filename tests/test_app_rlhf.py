"""The RLHF page in AppTest, on the tiny model: SFT on a click, a ranking
entered by clicks, the reward model and the policy, and a finished run
opened by its link in another session."""

import pytest

from apptest_utils import charts, open_link, unescape_md


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A cache of its own: the runs these tests train are theirs."""
    folder = tmp_path_factory.mktemp("rlhf-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ATTENTION_CLASSROOM_CACHE", str(folder))
        yield folder


def open_page(**params):
    return open_link({"page": "rlhf", "model": "tiny-random", **params})


def wait_for_the_queue(at):
    from components.rlhf_jobs import QUEUE

    assert QUEUE.join(600), "the training job ended"
    at.run()  # the page notices the finished job and opens its result
    at.run()
    assert not at.exception


@pytest.fixture(scope="module")
def trained(cache):
    """One session that runs the whole lesson by clicks."""
    at = open_page()
    assert [h.value for h in at.header] == ["① 手本で学習する（SFT）", "② 人間の順位から報酬モデルを作る",
                                            "③ 報酬が高くなるように方策（文を書くモデル）を学習する"]
    assert not charts(at), "nothing is trained before the teacher asks"
    at.button(key="rlhf_run_sft").click().run()
    wait_for_the_queue(at)
    sft_figure = charts(at)["rlhf_sft"]
    for letter, place in zip("ABCD", (2, 1, 3, 3)):  # B > A > C = D: a tie
        at.segmented_control(key=f"rank_{letter}").set_value(place).run()
    pairs = [unescape_md(c.value) for c in at.caption if "組のペア" in unescape_md(c.value)]
    at.button(key="rlhf_run_all").click().run()
    wait_for_the_queue(at)
    return at, sft_figure, pairs


def test_sft_shows_before_and_after(trained):
    _, sft_figure, _ = trained
    names = [trace["name"] for trace in sft_figure["data"]]
    assert names == ["学習前", "SFT の後", "学習なし・手本をプロンプトに入れる（文脈内学習）"]


def test_a_ranking_by_clicks_makes_its_pairs_and_ties_make_none(trained):
    _, _, pairs = trained
    assert pairs and pairs[0].startswith("順位 B > A > C = D から 5 組のペア")
    assert "C > D" not in pairs[0] and "D > C" not in pairs[0], "a tie makes no pair"


def test_the_policy_run_is_charted_and_linked(trained):
    at, _, _ = trained
    assert {"rlhf_steps_0", "rlhf_steps_1", "rlhf_eval"} <= set(charts(at))
    steps = charts(at)["rlhf_steps_0"]["data"][-1]
    from components.rlhf import RlhfSettings

    assert len(steps["x"]) == RlhfSettings().policy_steps, "one point per policy step"
    key = at.session_state["rlhf_run"]
    assert at.query_params["rlhf_run"] == key, "the address bar carries the finished run"
    from components.rlhf_jobs import load_result

    run = load_result(key)
    assert run.reward.ranking == "B > A > C = D"
    judged = [t.value for t in at.text if t.value.startswith(("✓", "✗")) and "B > A" in t.value]
    assert len(judged) == 1, "each of the class's pairs, marked right or wrong for the reward model"
    class_pairs = [p for p in run.reward.train_pairs if p.source == "class"]
    assert judged[0].count("✓") == sum(p.correct for p in class_pairs)
    assert judged[0].count(" > ") == len(class_pairs) == 5


def test_a_link_opens_the_finished_run_in_another_session(trained):
    at, _, _ = trained
    other = open_page(rlhf_run=at.session_state["rlhf_run"])
    assert {"rlhf_sft", "rlhf_steps_0", "rlhf_eval"} <= set(charts(other)), "no training: the result is opened"
    places = {letter: other.segmented_control(key=f"rank_{letter}").value for letter in "ABCD"}
    assert places == {"A": 2, "B": 1, "C": 3, "D": 3}, "the run opens ranked as it was trained"
    assert any(unescape_md(c.value).startswith("順位 B > A > C = D から 5 組") for c in other.caption)
    from components.rlhf_jobs import QUEUE

    assert not QUEUE.busy()


def test_the_rlhf_lesson_reads_the_finished_run(trained):
    """The lesson opens the task's finished run: its charts, before/after
    texts, and each claim checked on it with the run's numbers."""
    from components.lessons import load_lessons
    from components.rlhf_jobs import load_result

    at, _, _ = trained
    run = load_result(at.session_state["rlhf_run"])
    lesson = next(x for x in load_lessons() if x.page == "rlhf")
    other = open_page(page="lessons", lesson=lesson.id)
    figs = charts(other)
    assert len(figs["lesson_fig_0"]["data"][-1]["x"]) == len(run.policy.steps), "the reward of every policy step"
    assert "lesson_fig_1" in figs, "reference, policy and best-of-n side by side"
    claims = [t.value for t in other.text if t.value.startswith(("✓", "✗"))]
    assert len(claims) == len(lesson.claims)
    assert any(f"{run.policy.reference.mean:.2f} → 学習後 {run.policy.policy.mean:.2f}" in c for c in claims), claims
    assert not any(t.value.startswith("方策の学習後: 「") for t in other.text), "the texts would give the answer away"
    other.toggle(key="reveal").set_value(True).run()
    assert any(t.value.startswith("方策の学習後: 「") for t in other.text), "texts after training, with the answer"


def test_projector_view_shows_one_step_with_its_figure_first(trained):
    at, _, _ = trained
    key = at.session_state["rlhf_run"]
    other = open_page(rlhf_run=key, projector="1")
    assert other.segmented_control(key="rlhf_step").value == 3, "no step in the link: the furthest one with a result"
    figs = charts(other)
    assert set(figs) == {"rlhf_steps_0", "rlhf_eval"}, "step 3 only, its step figures one at a time"
    assert all(f["layout"]["font"]["size"] >= 20 for f in figs.values())
    assert not other.text_area, "the other steps' controls are not on the projector"
    other.segmented_control(key="rlhf_step").set_value(2).run()
    assert other.query_params["rlhf_step"] == "2", "a link opens the same step"
    assert other.segmented_control(key="rank_B").value == 1 and not charts(other)
    other.segmented_control(key="rlhf_step").set_value(1).run()
    assert set(charts(other)) == {"rlhf_sft"}
