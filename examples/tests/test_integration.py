import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import calc  # noqa: E402
from tap import run  # noqa: E402


def test_chain():
    assert calc.add(calc.divide(9, 3), 1) == 4


def test_divide_by_zero_is_reported():
    # Fails on purpose: the calculator raises ZeroDivisionError instead of returning inf.
    assert calc.divide(1, 0) == float("inf")


sys.exit(run([test_chain, test_divide_by_zero_is_reported]))
