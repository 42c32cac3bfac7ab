"""The app's pages and the figures each shows in projector view: the one
list that the router, links, lessons and tests read.

Each page is a script in ``components/ui/``; its title is the i18n string
``page_<name>`` and its address is ``/<name>``.
"""

from __future__ import annotations

#: page name -> its script, in the order of the navigation (the lecture's order)
PAGES: dict[str, str] = {
    "explorer": "components/ui/explorer.py",
    "mask": "components/ui/mask.py",
    "layers": "components/ui/layers.py",
    "lessons": "components/ui/lessons.py",
    "generate": "components/ui/generate.py",
    "homophones": "components/ui/homophones.py",
    "icl": "components/ui/icl.py",
    "rlhf": "components/ui/rlhf.py",
}
DEFAULT_PAGE = "explorer"

#: projector view shows one figure at a time; the widget key that picks it -> its choices
FIGURE_CHOICES: dict[str, tuple[str, ...]] = {
    "figure": ("detail", "next", "strip", "overview"),  # the explorer
    "mask_figure": ("stages", "compare", "shift"),  # the masked-vs-unmasked page
    "layers_figure": ("lens", "track", "knockout"),  # layer by layer
}


def figure_key(figure: str) -> str:
    """The widget key whose choices include ``figure`` (a lesson names only the figure)."""
    for key, choices in FIGURE_CHOICES.items():
        if figure in choices:
            return key
    raise ValueError(f"unknown figure {figure!r}; known: {sorted(sum(FIGURE_CHOICES.values(), ()))}")


def needs_mask_views(page: str, figure: str) -> bool:
    """Whether a view needs the raw scores and the unmasked run of its sentence."""
    return page == "mask" or figure in FIGURE_CHOICES["mask_figure"]
