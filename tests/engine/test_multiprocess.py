"""Two processes, two CPU devices each, joined by ``jax.distributed``: the sharded explanation equals one
process's."""
import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np

import pytest

import evojax_lime as el
from tests.engine.planted import planted_problem

pytestmark = pytest.mark.slow  # minutes on 2 cores: the fast tier skips it, CI runs it

CONFIG = dict(population_size=16, generations=5, chunk_size=8, fill="black")

_WORKER = textwrap.dedent("""
    import json, sys
    import jax
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=sys.argv[2], num_processes=2, process_id=int(sys.argv[1]))
    import evojax_lime as el
    from tests.engine.planted import planted_problem
    assert jax.device_count() == 4 and jax.local_device_count() == 2, jax.devices()
    image, labels, clf = planted_problem((1, 2, 7), side=24, n_segments=12)
    e = el.explain(image, clf, segments=labels, config=el.ELimeConfig(shard=True, **json.loads(sys.argv[3])), seed=7)
    print(json.dumps([e.genome.tolist(), e.fitness_history.tolist(), e.explanation_probability]))
""")


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def test_two_processes_equal_one():
  root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu",
             PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
  address = f"127.0.0.1:{_free_port()}"
  procs = [subprocess.Popen([sys.executable, "-c", _WORKER, str(i), address, json.dumps(CONFIG)], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in (0, 1)]
  outs = []
  for proc in procs:
    try:
      out, err = proc.communicate(timeout=300)
    finally:
      proc.kill()
    assert proc.returncode == 0, err[-3000:]
    outs.append(json.loads(out.strip().splitlines()[-1]))
  image, labels, clf = planted_problem((1, 2, 7), side=24, n_segments=12)
  alone = el.explain(image, clf, segments=labels, config=el.ELimeConfig(**CONFIG), seed=7)
  expected = [alone.genome.tolist(), alone.fitness_history.tolist(), alone.explanation_probability]
  assert outs[0] == outs[1] == expected
  assert np.asarray(outs[0][0]).sum() >= 1
