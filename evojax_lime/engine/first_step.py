"""What the first step of a program completes in a :class:`Problem` before the initial population.

With in-program segmentation (``"quickshift_jax"``, ``"slic_jax"``) the host hands over only the image: superpixels
and K are computed here. The fill is always computed here (unless a baseline image was given), and the
target is resolved by the first evaluation (:func:`evojax_lime.evaluation.fitness.evaluate_rows`), so a batch of photos
goes from pixels to explanations without a host round trip.
"""
from __future__ import annotations

from evojax_lime.config import ELimeConfig
from evojax_lime.evaluation.fill import make_fill
from evojax_lime.evaluation.fitness import Problem
from evojax_lime.segmentation.superpixels import in_program_labels


def complete_problem(problem: Problem, *, config: ELimeConfig, length: int, given_fill: bool) -> Problem:
  """Fills in ``problem``'s labels and K (in-program segmentation) and its fill (unless ``given_fill``)."""
  image = problem.image
  if config.segments_in_program:
    labels, num_genes = in_program_labels(image, config.segmentation, dict(config.segmentation_params))
    problem = problem.replace(labels=labels, num_genes=num_genes)
  if not given_fill:
    problem = problem.replace(fill=make_fill(image, problem.labels, kind=config.fill, length=length,
                                             blur_sigma=config.blur_sigma))
  return problem
