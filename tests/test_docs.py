"""The documentation says what the code does: every public name, option and command-line flag is documented,
every figure of the README's results table and of the docs' tables of measurements appears in the recorded file
it cites, and every recorded file names its machine and date."""
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
RECORDS = ROOT / "benchmarks" / "results"
RECORD_LINK = re.compile(r"\]\((?:\.\./)?(benchmarks/results/[^)#]+\.md)")
DATE = re.compile(r"\b20\d\d-\d\d-\d\d\b")


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


def _tables(text: str):
  """Yields (citing text, header cells, body rows) for each markdown table: the citing text is what lies between
  the previous table or heading and the table, or, where that cites no record, all of the section above it."""
  context, section, lines = [], [], text.splitlines()
  i = 0
  while i < len(lines):
    line = lines[i].strip()
    if line.startswith("|") and i + 1 < len(lines) and set(lines[i + 1].strip()) <= set("|-: "):
      rows = []
      j = i + 2
      while j < len(lines) and lines[j].strip().startswith("|"):
        rows.append(_cells(lines[j]))
        j += 1
      citing = "\n".join(context)
      yield citing if RECORD_LINK.search(citing) else "\n".join(section), _cells(line), rows
      context, i = [], j
      continue
    if line.startswith("#"):
      context, section = [], []
    else:
      context.append(line)
      section.append(line)
    i += 1


def _cells(line: str) -> list[str]:
  return [c.strip() for c in line.strip().strip("|").split("|")]


def _rounds_to(quoted: str, recorded: set[str]) -> bool:
  """Whether a figure quoted with d decimals is a recorded number (or a recorded share, as a percentage) rounded
  to d decimals; a half unit either way is allowed, since the record itself rounds (to 4 significant digits)."""
  if quoted in recorded:
    return True
  decimals = len(quoted.partition(".")[2])
  value, half_unit = float(quoted), 0.5 * 10 ** -decimals * (1 + 1e-9)
  return any(abs(candidate - value) <= half_unit
             for number in recorded for candidate in (float(number), 100 * float(number)))


def _measured_tables():
  """Every table of docs/results.md that quotes a figure, and every table of the other docs whose text cites a
  recorded file; the first column (what is measured, with its settings) and goal columns are not figures."""
  for doc in sorted((ROOT / "docs").glob("*.md")):
    for index, (context, header, rows) in enumerate(_tables(doc.read_text())):
      figures = [i for i, name in enumerate(header) if i > 0 and not name.lower().startswith("goal")]
      cited = RECORD_LINK.findall(context)
      if doc.name != "results.md" and not cited:
        continue
      if any(NUMBER.search(row[i]) for row in rows for i in figures if i < len(row)):
        yield pytest.param(doc, cited, header, rows, figures, id=f"{doc.name}:{index}:{header[0][:20]}")


@pytest.mark.parametrize("doc,cited,header,rows,figures", list(_measured_tables()))
def test_each_docs_table_figure_appears_in_the_file_it_cites(doc, cited, header, rows, figures):
  assert cited, f"a table of {doc.name} ({header}) cites no recorded file in the text above it"
  recorded = set()
  for link in cited:
    path = ROOT / link
    assert path.is_file(), f"{doc.name} cites {link}, which is not a recorded result"
    text = path.read_text()
    assert any(name in text.lower() for name in MACHINES), f"{link} does not name its machine"
    recorded |= _numbers(text)
  missing = []
  for row in rows:
    for i in figures:
      cell = re.sub(r"\[[^\]]*\]\([^)]*\)", "", row[i]) if i < len(row) else ""
      missing += [f"{row[0][:30]}: {n}" for n in _numbers(cell) if not _rounds_to(n, recorded)]
  assert not missing, f"figures of a {doc.name} table not in {[Path(c).name for c in cited]}: {missing}"


@pytest.mark.parametrize("record", sorted(RECORDS.glob("*.md")), ids=lambda p: p.name)
def test_every_record_names_its_machine_and_date(record):
  text = record.read_text()
  assert any(name in text.lower() for name in MACHINES), f"{record.name} does not name its machine"
  assert DATE.search(text), f"{record.name} does not give the date it was measured"


def test_every_record_has_its_command_in_the_benchmarks_doc():
  text = (ROOT / "docs" / "benchmarks.md").read_text()
  reproduce = text.split("## Reproducing each record", 1)[1]
  missing = [p.name for p in sorted(RECORDS.glob("*.md")) if f"(../benchmarks/results/{p.name})" not in reproduce]
  assert not missing, f"docs/benchmarks.md gives no command for {missing}"
  scripts = set(re.findall(r"python -m benchmarks\.(\w+)", reproduce))
  absent = sorted(s for s in scripts if not (ROOT / "benchmarks" / f"{s}.py").is_file())
  assert not absent, f"docs/benchmarks.md runs scripts that do not exist: {absent}"
