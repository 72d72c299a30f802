"""``explain``: image -> superpixels -> evolved genome -> :class:`Explanation`."""
from __future__ import annotations

from typing import Any, Optional

from evojax_lime.config import ELimeConfig
from evojax_lime.explanation import Explanation
from evojax_lime.evaluation.fitness import Classifier
from evojax_lime.restarts import check_restarts, explain_restarts
from evojax_lime.engine.search import Progress, Search
from evojax_lime.engine.seeds import prng_key


def explain(image: Any, classifier: Classifier, *, target: Optional[int] = None, segments: Any = None,
            config: ELimeConfig = ELimeConfig(), seed: Any = 0, logits: bool = False,
            baseline: Any = None, progress: Optional[Progress] = None, restarts: int = 1) -> Explanation:
  """Evolves the set of superpixels that best keeps ``classifier``'s belief in ``target``.

  Args:
    image: ``(H, W, 3)`` RGB (uint8, uint16 or float in [0, 1]; grayscale and RGBA are converted).
    classifier: JAX function, float images ``(N, H, W, 3)`` in [0, 1] -> probabilities ``(N, C)`` (or logits
      with ``logits=True``). Pass the same function object each time to reuse compiled programs.
    target: class to explain; ``None`` explains the classifier's top-1 class on the full image.
    segments: optional ``(H, W)`` integer label map; otherwise ``config.segmentation`` cuts the image.
    config: options of the run.
    seed: integer or ``jax.random`` key; the whole run is a deterministic function of it.
    logits: the classifier returns logits.
    baseline: optional ``(H, W, 3)`` image shown where superpixels are hidden (overrides ``config.fill``).
    progress: optional ``(generation, best_fitness) -> None``, called on this thread about every
      ``generations / 20`` generations; the result does not change.
    restarts: R independent runs of the image evolved together in one program; run r uses key r of
      ``jax.random.split(key, R)``, where ``key`` is ``seed`` (an integer seed s: ``jax.random.PRNGKey(s)``).
      R > 1 returns their consensus: the superpixels kept in at least half of the runs (ties kept),
      re-evaluated, with ``stability`` (mean pairwise Jaccard of the runs' selected sets) and ``runs``; it costs
      R times the evaluations. 1 (default) is a single run with ``seed`` itself.

  Returns:
    The :class:`Explanation`.

  Raises:
    ValueError: a bad image, label map, target, seed, or classifier output, each with what was expected.
  """
  prng_key(seed)  # one image takes one seed: refuse anything else before any work
  if check_restarts(restarts) > 1:
    return explain_restarts([image], classifier, restarts=restarts, targets=[target],
                            segments=None if segments is None else [segments], config=config, seeds=[seed],
                            logits=logits, baselines=None if baseline is None else [baseline], params=None,
                            progress=progress)[0]
  search = Search([image], classifier, targets=[target], segments=None if segments is None else [segments],
                  config=config, seeds=[seed], logits=logits, baselines=None if baseline is None else [baseline])
  return search.advance(progress=progress).explanations()[0]
