"""Checking that a lesson's or an example's claims hold, and that its text
states only numbers they measured."""

from components.lessons import check_claim, stated_numbers


def assert_claims_hold(holder, probe, text_of) -> None:
    """Every claim of ``holder`` (a lesson or an example) holds on ``probe``'s
    model and is told in both languages; ``text_of(lang)`` (its answer or its
    note) states only numbers those claims measured, rounded as they show them."""
    summaries = {"ja": [], "en": []}
    for claim in holder.claims:
        result = check_claim(claim, holder, probe)
        assert result.ok, f"{holder.text}: {claim} -> {result.summary('en')}"
        assert result.summary("ja") != result.summary("en"), "the numbers are told in both languages"
        for lang in summaries:
            summaries[lang].append(result.summary(lang))
    for lang in summaries:
        measured = stated_numbers(" ".join(summaries[lang]))
        unbacked = stated_numbers(text_of(lang)) - measured
        assert not unbacked, f"{holder.text} ({lang}) states {sorted(unbacked)}; its claims measured {sorted(measured)}"
