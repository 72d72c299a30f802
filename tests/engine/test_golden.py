"""The GA gives the explanations recorded in tests/engine/golden_ga.json (tests/engine/golden.py): bit for bit on
the planted classifier; on the convolutional network, the same genomes, sizes and counts, and every float within
``ATOL``.

XLA compiles a CPU convolution for the instruction set it finds (AVX2, AVX-512, ...), so the network's outputs
differ in their last bits from one CPU generation to another (seen: 3e-8 to 1.1e-6 between two x86 machines, on
probabilities, fitness and importance, all of order 1);
the planted classifier's arithmetic is exact in float32, so its cases stay bit for bit everywhere.
"""
import numpy as np
import pytest

from tests.engine import golden

RECORDED = golden.load()
# The cases on a real convolutional network compile larger programs: the everyday tier runs the planted ones.
SLOW = {name for name in RECORDED if name.startswith("conv_")}
# Ten times the largest difference seen across CPUs; a change of the GA's draws changes genomes, or floats by far
# more than this.
ATOL = 1e-5


def _floats(value) -> np.ndarray:
  return np.array([float.fromhex(v) for v in (value if isinstance(value, list) else [value])], np.float32)


def assert_close(got: list, recorded: list) -> None:
  """Equal, except that the hex-encoded floats may differ by ``ATOL``."""
  assert len(got) == len(recorded)
  for g, r in zip(got, recorded):
    assert g.keys() == r.keys()
    for key, want in r.items():
      is_float = isinstance(want, str) or (isinstance(want, list) and want and isinstance(want[0], str))
      if not is_float:
        assert g[key] == want, key
        continue
      a, b = _floats(g[key]), _floats(want)
      assert a.shape == b.shape, key
      assert (np.isnan(a) == np.isnan(b)).all(), key
      assert np.nan_to_num(np.abs(a - b)).max() <= ATOL, key


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in RECORDED])
def test_golden(name):
  got = golden.run(name)
  if name in SLOW:
    assert_close(got, RECORDED[name])
  else:
    assert got == RECORDED[name]


def test_assert_close_refuses_what_it_should():
  recorded = [{"genome": [1, 2], "p": float(0.5).hex(), "h": [float(0.25).hex(), float(1.0).hex()]}]
  assert_close(recorded, recorded)
  near = [{**recorded[0], "p": float(np.float32(0.5) + np.float32(2e-6)).hex()}]
  assert_close(near, recorded)
  for bad in ({"genome": [1, 3]}, {"p": float(0.5001).hex()}, {"h": [float(0.25).hex()]}):
    with pytest.raises(AssertionError):
      assert_close([{**recorded[0], **bad}], recorded)
