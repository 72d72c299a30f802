"""The GA gives, bit for bit, the explanations recorded in tests/engine/golden_ga.json (tests/engine/golden.py)."""
import pytest

from tests.engine import golden

RECORDED = golden.load()
# The cases on a real convolutional network compile larger programs: the everyday tier runs the planted ones.
SLOW = {name for name in RECORDED if name.startswith("conv_")}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in RECORDED])
def test_golden(name):
  assert golden.run(name) == RECORDED[name]
