"""`--strategy`: the choice reaches the search, the resume record, and options it would ignore are refused."""
import json

import pytest

from evojax_lime.cli.args import build_parser, check_objective, config_from_args
from evojax_lime.cli.errors import CliError
from evojax_lime.cli.resume import options
from tests.cli.conftest import FAST, cli


def _checked(*argv):
  args = build_parser().parse_args(["explain", *argv])
  check_objective(args, config_from_args(args))
  return args


def test_the_default_is_the_ga_and_its_records_stay_comparable():
  assert _checked().strategy == "ga"
  common = dict(model="m", weights="pretrained", config=config_from_args(_checked()), seed=0, target=None,
                overlay_side=None)
  assert "strategy" not in options(**common)
  assert options(**common, strategy="kernelshap")["strategy"] == "kernelshap"


@pytest.mark.parametrize("argv, expect", [
    (("--strategy", "kernelshap", "--elite", "4"), "--strategy kernelshap: the kernelshap strategy does not use --elite"),
    (("--strategy", "extremal", "--patience", "3"), "--strategy extremal: the extremal strategy does not use --patience"),
    (("--strategy", "kernelshap", "--restarts", "2"), "--strategy kernelshap: --restarts are for the ga strategy"),
    (("--objective", "pareto", "--strategy", "extremal"), "--objective pareto: --strategy extremal has no front"),
])
def test_options_a_strategy_ignores_are_refused(argv, expect):
  with pytest.raises(CliError) as err:
    _checked(*argv)
  assert str(err.value).startswith(expect) and err.value.code == 2
  _checked(*argv[:2])  # the strategy alone is fine


@pytest.mark.slow  # a launched process with EfficientNet-Lite0
def test_kernelshap_from_the_command_line(tmp_path, photos):
  result = cli("explain", photos["cat"], "--strategy", "kernelshap", *FAST, "--out", tmp_path / "out", cwd=tmp_path)
  assert result.returncode == 0, result.stderr
  path, = [p for p in (tmp_path / "out").glob("*.json") if not p.name.startswith("summary")]
  record = json.loads(path.read_text())
  assert record["options"]["strategy"] == "kernelshap"
  values = record["importance"]  # Shapley values: they sum to p(image) - p(nothing shown), within [-1, 1]
  assert len(values) > 1 and -1 <= sum(values) <= 1 and min(values) != max(values)
