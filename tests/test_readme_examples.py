"""The README's examples of one's own photo and model run as printed (in a fresh folder, one namespace)."""
import os
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # four small searches, each with its own compile

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _examples() -> list[str]:
  section = README.split("## Your own photo, your own model", 1)[1].split("\n## ", 1)[0]
  return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_readme_has_the_examples():
  code = "\n".join(_examples())
  for what in ('models.create("efficientnet_lite0"', "torch.save(", "nn.Module", "el.host_classifier("):
    assert what in code


def test_the_examples_run(tmp_path):
  namespace: dict = {}
  cwd = os.getcwd()
  os.chdir(tmp_path)  # the examples write a weights file where they run
  try:
    for block in _examples():
      exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - the README's own code
  finally:
    os.chdir(cwd)
  exp = namespace["exp"]
  assert 0 <= exp.explanation_probability <= 1 and len(exp.selected) >= 1
  assert (tmp_path / "my_resnet18.pth").is_file()
