"""The documentation says what the code does: every public name, option and command-line flag is documented,
and every figure of the README's results table appears in the recorded file it cites."""
import dataclasses
import re
from pathlib import Path

import pytest

import evojax_lime as el
from evojax_lime.cli.args import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
API = (ROOT / "docs" / "api.md").read_text()
CLI = (ROOT / "docs" / "cli.md").read_text()
MACHINES = ("machine:", "epyc", "h100", "h200")  # how a record names the machine it ran on
NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?")


def test_every_public_name_is_in_the_api_reference():
  missing = [name for name in el.__all__ if f"`{name}" not in API and f"el.{name}" not in API]
  assert not missing, f"docs/api.md does not document {missing}"


def test_every_option_is_in_the_api_reference():
  fields = [f.name for f in dataclasses.fields(el.ELimeConfig)] + [f.name for f in dataclasses.fields(el.GAParams)]
  missing = [name for name in fields if f"`{name}" not in API]
  assert not missing, f"docs/api.md does not document the options {missing}"


def _flags(parser):
  for action in parser._actions:  # argparse keeps no public list of a parser's options
    if hasattr(action, "choices") and isinstance(action.choices, dict):  # subcommands
      for sub in action.choices.values():
        yield from _flags(sub)
    yield from (s for s in action.option_strings if s.startswith("--") and s != "--help")


def test_every_command_line_flag_is_in_the_cli_reference():
  missing = sorted({flag for flag in _flags(build_parser()) if flag not in CLI})
  assert not missing, f"docs/cli.md does not document {missing}"


def _results_rows():
  section = README.split("## Results", 1)[1].split("\n## ", 1)[0]
  for line in section.splitlines():
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) == 5 and cells[0] not in ("measure", "") and not set(cells[0]) <= set("-"):
      yield cells


def _numbers(text: str) -> set[str]:
  return {n.replace(",", "") for n in NUMBER.findall(text)}


@pytest.mark.parametrize("row", list(_results_rows()), ids=lambda row: row[0][:40])
def test_each_results_figure_appears_in_the_file_it_cites(row):
  measure, _, result, _, source = row
  link = re.search(r"\]\(([^)#]+)", source)
  assert link, f"row {measure!r} cites no file"
  path = ROOT / link.group(1)
  assert path.parent == ROOT / "benchmarks" / "results" and path.is_file(), f"{path} is not a recorded result"
  recorded = _numbers(path.read_text())
  assert any(name in path.read_text().lower() for name in MACHINES), f"{path} does not name its machine"
  quoted = _numbers(result)
  assert quoted, f"row {measure!r} quotes no figure"
  assert quoted <= recorded, f"{sorted(quoted - recorded)} of row {measure!r} are not in {path.name}"
