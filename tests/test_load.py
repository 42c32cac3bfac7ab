"""The load test at a small size, as CI runs it: five students at once, no errors."""

import sys

import pytest

from browser import require_chromium
from conftest import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_five_students_at_once_get_no_errors():
    require_chromium()
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_load import print_table, run_load_test

    result = run_load_test(pages=5, timeout=180)
    print_table(result)
    assert result.errors == []
    assert result.all_answered > 0
