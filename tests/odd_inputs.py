"""A corpus of odd and hostile inputs (at least 40), shared by the core and app tests."""

ODD_INPUTS = [
    # empty in every way
    "", " ", "    ", "\u3000", "\u3000\u3000\u3000", "\t", "\n", "\r\n", " \u3000\t\n",
    # punctuation only
    "。", "、。！？", "!!!???", "……", "「」『』", "---", "・・・",
    # too long
    "あ" * 5000, "鳥がナク。" * 1000,
    # emoji with joiners and modifiers
    "👨‍👩‍👧‍👦", "👍🏽👍🏿", "🇯🇵🇺🇸", "🏳️‍🌈", "鳥が🐦ナク",
    # half-width katakana
    "ｶﾀｶﾅ", "ﾊﾝｶｸ ｶﾀｶﾅ ﾃﾞｽ", "ﾄﾘｶﾞﾅｸ",
    # outside the BMP
    "𠮷野家", "𩸽を食べる", "𝕏𝕐𝕫",
    # combining marks
    "か\u3099", "e\u0301\u0302\u0303", "鳥\u20dd", "\u0301",
    # right-to-left marks and scripts
    "\u200f鳥がナク\u200e", "\u202eabc\u202c", "שלום עולם", "مرحبا",
    # control characters and NUL
    "\x00", "鳥\x00が\x00ナク", "\x07\x1b[31m赤", "\x7f", "\u0085", "\ufeff鳥", "\u200b\u200b", "\ud800鳥",
    # tabs and newlines
    "鳥が\tナク", "鳥が\nナク", "\n\n鳥\n", "一行目\r\n二行目",
    # English only
    "The bird sings.", "hello",
    # Markdown, LaTeX, HTML and script text
    "**太字** _斜体_ `code`", "# 見出し", "[リンク](http://example.com)", "$x^2$", "$$\\frac{1}{2}$$",
    "\\(a+b\\)", "<script>alert(1)</script>", "<b>鳥</b>がナク", "<img src=x onerror=alert(1)>", "&lt;&amp;&gt;",
    "{{7*7}}", "'; DROP TABLE x; --", "../../etc/passwd", "$(rm -rf /)",
]

#: the documented messages an odd input may give instead of a result
DOCUMENTED = ("empty", "too_long", "no_tokens")
