"""``import evojax_lime`` loads no JAX: every public name is loaded on first use, and each one resolves."""
import subprocess
import sys

import pytest

import evojax_lime as el


def test_importing_the_package_loads_no_jax():
  code = "import sys, evojax_lime; print(sorted(m for m in ('jax', 'flax', 'optax', 'numpy') if m in sys.modules))"
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
  assert out.stdout.strip() == "[]"


def test_every_lazy_name_resolves_to_what_its_module_defines():
  import evojax_lime.explain_api
  import evojax_lime.metrics
  assert el.explain is evojax_lime.explain_api.explain
  assert el.metrics is evojax_lime.metrics
  assert set(el.__all__) <= set(dir(el))
  for name in dir(el):
    if not name.startswith("_"):
      assert getattr(el, name) is not None
  namespace = {}
  exec("from evojax_lime import *", namespace)  # pylint: disable=exec-used
  assert {n for n in namespace if not n.startswith("__")} == set(el.__all__)


def test_an_unknown_name_is_a_clear_attribute_error():
  with pytest.raises(AttributeError, match="has no attribute 'nonexistent'"):
    el.nonexistent  # pylint: disable=pointless-statement
