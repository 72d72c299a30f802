"""BatchNorm folded into a dense convolution: the same variables and the same function as conv then BatchNorm."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models._blocks import ConvBN, batch_norm, conv


class _Unfolded(nn.Module):
  """The reference: ``nn.Conv`` then ``nn.BatchNorm``, named as :class:`ConvBN` names them."""

  features: int
  kernel_size: int
  stride: int

  @nn.compact
  def __call__(self, x):
    x = conv(self.features, self.kernel_size, stride=self.stride, dtype=jnp.float32, name="conv")(x)
    return batch_norm(eps=1e-5, dtype=jnp.float32, name="bn")(x)


def _random_variables(module, x, seed):
  """Variables with non-trivial BatchNorm statistics (scales, shifts, means, positive variances)."""
  shapes = jax.eval_shape(module.init, jax.random.PRNGKey(0), x)
  leaves, treedef = jax.tree_util.tree_flatten_with_path(shapes)
  rng = np.random.default_rng(seed)
  values = [np.abs(rng.normal(1.0, 0.5, leaf.shape)) + 0.05 if path[-1].key == "var" else
            rng.normal(0.0, 1.0, leaf.shape) for path, leaf in leaves]
  return jax.tree_util.tree_unflatten(treedef, [jnp.asarray(v, jnp.float32) for v in values])


@pytest.mark.parametrize("kernel_size, stride", [(1, 1), (3, 2), (7, 2)])
@pytest.mark.parametrize("jitted", [False, True])
@pytest.mark.parametrize("impl", ["folded", "after"])  # "auto" is "after" here: the ports' parity tests run it
def test_conv_bn_matches_conv_then_batch_norm(kernel_size, stride, jitted, impl):
  x = jax.random.normal(jax.random.PRNGKey(1), (2, 15, 15, 5))
  folded = ConvBN(features=6, kernel_size=kernel_size, stride=stride, norm_impl=impl)
  unfolded = _Unfolded(6, kernel_size, stride)
  variables = _random_variables(unfolded, x, seed=kernel_size)
  # One variables tree serves both: checkpoints convert as before.
  assert jax.tree_util.tree_structure(jax.eval_shape(folded.init, jax.random.PRNGKey(0), x)) == \
      jax.tree_util.tree_structure(variables)
  apply = lambda m: (jax.jit(m.apply) if jitted else m.apply)(variables, x)
  got, want = apply(folded), apply(unfolded)
  assert got.shape == want.shape == (2, -(-15 // stride), -(-15 // stride), 6)
  np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-5 * float(jnp.abs(want).max()))
  assert not np.allclose(np.asarray(got), np.asarray(apply(ConvBN(features=6, kernel_size=kernel_size,
                                                                   stride=stride, eps=1e-1, norm_impl=impl))),
                         atol=1e-4)


def test_folded_conv_bn_changes_with_every_statistic():
  """Each of the four BatchNorm variables enters the folded layer (a fold that dropped one would still pass
  with identity statistics)."""
  x = jax.random.normal(jax.random.PRNGKey(1), (1, 9, 9, 3))
  module = ConvBN(features=4, kernel_size=3, norm_impl="folded")
  variables = _random_variables(_Unfolded(4, 3, 1), x, seed=0)
  base = np.asarray(module.apply(variables, x))
  for collection, leaf in (("params", "scale"), ("params", "bias"), ("batch_stats", "mean"), ("batch_stats", "var")):
    changed = jax.tree_util.tree_map(lambda v: v, variables)
    changed[collection]["bn"][leaf] = changed[collection]["bn"][leaf] * 1.5 + 0.1
    assert not np.allclose(np.asarray(module.apply(changed, x)), base, atol=1e-5), leaf


def test_an_unknown_batch_norm_impl_is_refused():
  x = jnp.zeros((1, 5, 5, 3))
  with pytest.raises(ValueError, match="BatchNorm impl must be one of"):
    ConvBN(features=2, kernel_size=3, norm_impl="fused").init(jax.random.PRNGKey(0), x)


def test_efficientnet_lite_folded_matches_the_port_as_run_on_a_cpu():
  """Lite0 with every dense BatchNorm folded (as on a GPU) against the same variables unfolded (as on a CPU)."""
  import models
  model = models.create("efficientnet_lite0", seed=3)
  variables = jax.tree_util.tree_map(lambda v: v, model.variables)
  rng = np.random.default_rng(0)
  for path in [("stem",), ("head",)]:  # non-trivial statistics where the identity BatchNorm would hide a slip
    stats = variables["batch_stats"][path[0]]["bn"]
    stats["mean"] = jnp.asarray(rng.normal(0, 0.1, stats["mean"].shape), jnp.float32)
    stats["var"] = jnp.asarray(rng.uniform(0.5, 2.0, stats["var"].shape), jnp.float32)
  x = jax.random.uniform(jax.random.PRNGKey(0), (2, 64, 64, 3))  # any size runs; a small one compiles fast
  outputs = {}
  for impl in ("folded", "after"):
    outputs[impl] = np.asarray(jax.jit(model.module.clone(norm_impl=impl).apply)(variables, x))
  np.testing.assert_allclose(outputs["folded"], outputs["after"], rtol=1e-4, atol=1e-5)
