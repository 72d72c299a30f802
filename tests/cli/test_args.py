"""The options as parsed into an ELimeConfig, in process (the launched CLI is tested in test_outputs/test_errors)."""
import evojax_lime as el
from evojax_lime.cli.args import build_parser, config_from_args


def _config(*argv):
  return config_from_args(build_parser().parse_args(["explain", *argv]))


def test_the_defaults_are_the_configs():
  assert _config() == el.ELimeConfig()


def test_patience_is_off_unless_given():
  assert _config().patience is None
  assert _config("--patience", "5").patience == 5
