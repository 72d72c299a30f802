"""The classifier's number of classes comes with the program compiled around it, read from that build's trace."""
import pytest

import evojax_lime as el
from tests.engine.planted import planted_problem

CONFIG = el.ELimeConfig(population_size=8, generations=1, fill="black", faithfulness=False, chunk_size=8)


def test_the_number_of_classes_is_what_the_programs_build_found():
  image, labels, clf = planted_problem((1, 2), side=16, n_segments=9, num_classes=4)
  search = el.Search([image], clf, segments=[labels], config=CONFIG)
  built, fresh = search._program.compiled(search._weights, search.state)
  assert search.num_classes == built.num_classes == 4 and not fresh  # the same build, not traced again
  with pytest.raises(ValueError, match="target 4 is out of range: the classifier has 4 classes"):
    el.Search([image], clf, segments=[labels], config=CONFIG, targets=[4])
  assert el.Search([image], clf, segments=[labels], config=CONFIG, targets=[3]).num_classes == 4
