"""``explain_batch``: many images of one size evolved together in a single compiled program."""
from __future__ import annotations

from typing import Any, Optional

from evojax_lime.config import ELimeConfig
from evojax_lime.explanation import Explanation
from evojax_lime.evaluation.fitness import Classifier
from evojax_lime.restarts import check_restarts, explain_restarts
from evojax_lime.engine.search import Progress, Search


def explain_batch(images: Any, classifier: Classifier, *, targets: Any = None, segments: Any = None,
                  config: ELimeConfig = ELimeConfig(), seeds: Any = 0, logits: bool = False,
                  baselines: Any = None, params: Any = None,
                  progress: Optional[Progress] = None, restarts: int = 1) -> list[Explanation]:
  """Explains ``B`` images of one size at once: one compiled program for all of them.

  Each step evaluates every image's population as one flat list of rows in chunks, so memory is bounded by
  one chunk whatever ``B``. Each image keeps its own superpixels (genomes padded to a common length, which
  never changes a result), target, fill, seed and rates.

  Args:
    images: ``(B, H, W, 3)`` array or a sequence of B images of one size.
    classifier: as for :func:`evojax_lime.explain`.
    targets: ``None`` (each image's top-1), one class for all, or one per image.
    segments: ``None`` or one ``(H, W)`` label map per image.
    config: options shared by all images.
    seeds: one seed for all images, or one per image: a sequence, an integer array ``(B,)``, or
      ``jax.random.split(key, B)``.
    logits: the classifier returns logits.
    baselines: ``None`` or one baseline image per image.
    params: ``None`` (the config's rates), one :class:`GAParams`, or one per image.
    progress: as for :func:`evojax_lime.explain`, over the whole batch.
    restarts: R > 1 evolves B x R runs in one program and returns each image's consensus, as
      :func:`evojax_lime.explain` does for one image (image b's runs split their keys from its seed).

  Returns:
    One :class:`Explanation` per image, in order; their timings are those of the whole batch.
  """
  if check_restarts(restarts) > 1:
    return explain_restarts(list(images), classifier, restarts=restarts, targets=targets, segments=segments,
                            config=config, seeds=seeds, logits=logits, baselines=baselines, params=params,
                            progress=progress)
  search = Search(images, classifier, targets=targets, segments=segments, config=config, seeds=seeds,
                  logits=logits, baselines=baselines, params=params)
  return search.advance(progress=progress).explanations()
