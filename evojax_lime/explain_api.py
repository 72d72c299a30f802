"""The explainers' front doors: ``explain``, ``explain_batch`` and ``explain_front``, each a :class:`Search` run
to the end."""
from __future__ import annotations

import dataclasses
from typing import Any, Optional, Sequence

import numpy as np

from evojax_lime import robustness as robust
from evojax_lime.config import ELimeConfig, GAParams
from evojax_lime.engine.preparation import per_image
from evojax_lime.engine.search import Progress, Search
from evojax_lime.engine.seeds import independent_seeds, per_image_seeds, prng_key
from evojax_lime.evaluation.classifier import check_same_structure
from evojax_lime.evaluation.fitness import Classifier
from evojax_lime.explanation import Explanation
from evojax_lime.front import ParetoFront
from evojax_lime.scores import ranking_correlation


def _one(value: Any) -> Optional[list]:
  return None if value is None else [value]


def _randomised_models(randomised: Optional[Classifier], cascade: Optional[Sequence[Classifier]]
                       ) -> Optional[list[Classifier]]:
  """The randomised copies a sanity score explains again (``None``: no score), each option checked."""
  if randomised is not None and cascade is not None:
    raise ValueError("pass randomised (one randomised copy) or cascade (copies randomised ever deeper), not both")
  if isinstance(randomised, (list, tuple)):
    raise ValueError("randomised takes one randomised copy of the classifier; pass a list of them as cascade=[...]")
  if cascade is not None and (not isinstance(cascade, (list, tuple)) or not cascade):
    got = "an empty list" if isinstance(cascade, (list, tuple)) else f"a {type(cascade).__name__}"
    raise ValueError(f"cascade must be a non-empty list of randomised classifiers, got {got}")
  return list(cascade) if cascade is not None else _one(randomised)


def _explained(search: Search, *, randomised: Optional[list[Classifier]], cascade: bool, robustness: bool,
               progress: Optional[Progress]) -> list[Explanation]:
  """The search's explanations with the scores asked for: sanity against each randomised copy of the classifier
  (one, or a ``cascade`` of them), robustness from each image's variant rows (see :func:`_with_variants`)."""
  exps = search.advance(progress=progress).explanations()
  if randomised is not None:
    # Independent keys: a rerun from the search's own keys would repeat its every random draw.
    seeds = independent_seeds(search.seeds)
    reruns = [search.rerun(c, seeds=seeds) for c in randomised]
    correlations = [[ranking_correlation(e.ranking, others[i].ranking) for others in reruns]
                    for i, e in enumerate(exps)]
    exps = [dataclasses.replace(e, sanity=values[0], sanity_cascade=tuple(values) if cascade else None)
            for e, values in zip(exps, correlations)]
  if not robustness:
    return exps
  group = 1 + len(robust.VARIANTS)
  out = []
  for first in range(0, len(exps), group):
    own, variants = exps[first], exps[first + 1:first + group]
    by_variant = robust.agreement(own.mask(), [v.mask() for v in variants])
    out.append(dataclasses.replace(own, robustness=float(np.mean(list(by_variant.values()))),
                                   robustness_by_variant=by_variant))
  return out


def _with_variants(images: Any, *, config: ELimeConfig, targets: Any, segments: Any, baselines: Any, seeds: Any,
                   params: Any) -> dict[str, Any]:
  """The rows of a search with robustness: each image, then its :data:`evojax_lime.robustness.VARIANTS`."""
  images = list(images)
  n, group = len(images), 1 + len(robust.VARIANTS)
  targets, segments, baselines = (per_image(v, n, name) for v, name in
                                  ((targets, "targets"), (segments, "segments"), (baselines, "baselines")))
  seeds = per_image_seeds(seeds, n)
  rows: dict[str, list] = {"images": [], "targets": [], "segments": [], "baselines": [], "seeds": []}
  for image, target, labels, baseline, seed in zip(images, targets, segments, baselines, seeds):
    variants = [(labels, baseline)] + [(labels if cut is None else cut, baseline if fill is None else fill)
                                       for cut, fill in robust.variant_inputs(image, config)]
    for cut, fill in variants:
      for name, value in zip(rows, (image, target, cut, fill, seed)):
        rows[name].append(value)
  if params is not None and not isinstance(params, GAParams):
    params = [p for p in per_image(params, n, "params") for _ in range(group)]
  return {**rows, "params": params}


def explain(image: Any, classifier: Classifier, *, target: Optional[int] = None, segments: Any = None,
            config: ELimeConfig = ELimeConfig(), seed: Any = 0, logits: bool = False,
            baseline: Any = None, progress: Optional[Progress] = None, restarts: int = 1,
            randomised: Optional[Classifier] = None, cascade: Optional[Sequence[Classifier]] = None,
            robustness: bool = False) -> Explanation:
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
      R > 1 returns their consensus: the superpixels kept in at least half of the runs (ties kept), evaluated
      in the same program, with ``stability`` (mean pairwise Jaccard of the runs' selected sets) and ``runs``;
      it costs R times the evaluations, plus one. 1 (default) is a single run with ``seed`` itself.
    randomised: optional copy of ``classifier`` with randomised layers (``models.randomised.randomised(model,
      layers=n).classifier()``): the same search runs again on it, through the same compiled program, for the same
      target, under keys of its own (:func:`~evojax_lime.engine.seeds.independent_seeds` of ``seed``), and
      ``sanity`` (in :meth:`Explanation.scores`) is the rank correlation of the two rankings
      (:attr:`Explanation.ranking`). Costs a second search.
    cascade: instead of ``randomised``, a list of copies randomised ever deeper (``models.randomised.cascade``):
      Adebayo et al.'s cascade, one more search each, ``sanity_cascade`` the correlation under each (in order)
      and ``sanity`` the first.
    robustness: also explain the image cut by other segmentations and with another fill, as rows of the same
      search (:mod:`evojax_lime.robustness`); ``robustness`` (in :meth:`Explanation.scores`) is the mean pixel
      Jaccard of their answers with this one. Costs one more run per variant.

  Returns:
    The :class:`Explanation`.

  Raises:
    ValueError: a bad image, label map, target, seed, option or classifier output, each with what was expected.
  """
  prng_key(seed)  # one image takes one seed: refuse anything else before any work
  return explain_batch([image], classifier, targets=[target], segments=_one(segments), config=config,
                       seeds=[seed], logits=logits, baselines=_one(baseline), progress=progress, restarts=restarts,
                       randomised=randomised, cascade=cascade, robustness=robustness)[0]


def explain_batch(images: Any, classifier: Classifier, *, targets: Any = None, segments: Any = None,
                  config: ELimeConfig = ELimeConfig(), seeds: Any = 0, logits: bool = False,
                  baselines: Any = None, params: Any = None, progress: Optional[Progress] = None,
                  restarts: int = 1, randomised: Optional[Classifier] = None,
                  cascade: Optional[Sequence[Classifier]] = None, robustness: bool = False,
                  strategy: str = "ga") -> list[Explanation]:
  """Explains ``B`` images of one size at once: one compiled program for all of them.

  Each step evaluates every image's population as one flat list of rows in chunks, so memory is bounded by
  one chunk whatever ``B``. Each image keeps its own superpixels (genomes padded to a common length, which
  never changes a result), target, fill, seed and rates.

  Args:
    images: ``(B, H, W, 3)`` array or a sequence of B images of one size.
    classifier: as for :func:`evojax_lime.explain`.
    targets: ``None`` (each image's top-1), one class for all, or one per image.
    segments: ``None`` or one ``(H, W)`` label map (or ``None``) per image.
    config: options shared by all images.
    seeds: one seed for all images, or one per image: a sequence, an integer array ``(B,)``, or
      ``jax.random.split(key, B)``.
    logits: the classifier returns logits.
    baselines: ``None`` or one baseline image (or ``None``) per image.
    params: ``None`` (the config's rates), one :class:`GAParams`, or one per image.
    progress: as for :func:`evojax_lime.explain`, over the whole batch.
    restarts: R > 1 evolves B x R runs in one program and returns each image's consensus, as
      :func:`evojax_lime.explain` does for one image (image b's runs split their keys from its seed).
    randomised, cascade, robustness: as for :func:`evojax_lime.explain`, for every image.
    strategy: ``"ga"`` (E-LIME), ``"kernelshap"`` or ``"extremal"`` (see :class:`~evojax_lime.Search`), on the
      same superpixels, fill and compiled evaluation.

  Returns:
    One :class:`Explanation` per image, in order; their timings are those of the whole batch.
  """
  if not isinstance(robustness, bool):
    raise ValueError(f"robustness must be True or False, got {robustness!r}")
  models = _randomised_models(randomised, cascade)
  for copy in models or []:
    check_same_structure(classifier, copy, name="randomised")  # before the main search, not after it
  rows = dict(images=images, targets=targets, segments=segments, baselines=baselines, seeds=seeds, params=params)
  if robustness:
    rows = _with_variants(config=config, **rows)
  search = Search(rows.pop("images"), classifier, strategy=strategy, config=config, logits=logits,
                  restarts=restarts, **rows)
  return _explained(search, randomised=models, cascade=cascade is not None, robustness=robustness,
                    progress=progress)


def explain_front(image: Any, classifier: Classifier, *, target: Optional[int] = None, segments: Any = None,
                  config: ELimeConfig = ELimeConfig(), seed: Any = 0, logits: bool = False,
                  baseline: Any = None, progress: Optional[Progress] = None) -> ParetoFront:
  """Evolves the whole confidence-vs-size front of one image with NSGA-II.

  Arguments as for :func:`evojax_lime.explain`; the NSGA-II strategy uses the config's population, generations,
  ``init_prob``, crossover and mutation, and refuses the GA-only options (``parsimony``, ``num_elite``,
  ``tournament_size``, ``patience``) when they are set. A batch of fronts is ``Search(images, classifier,
  strategy="nsga2", ...)`` then ``fronts()``. Costs ``config.num_evaluations`` classifier evaluations.
  """
  prng_key(seed)
  search = Search([image], classifier, strategy="nsga2", targets=[target], segments=_one(segments), config=config,
                  seeds=[seed], logits=logits, baselines=_one(baseline))
  return search.advance(progress=progress).fronts()[0]
