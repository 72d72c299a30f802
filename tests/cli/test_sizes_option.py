"""``--sizes``: the mask sizes ``--seeding sizes`` searches, parsed into ELimeConfig.sizes, or refused in one line."""
import pytest

from evojax_lime.cli.args import build_parser, config_from_args
from evojax_lime.cli.errors import CliError


def _config(*argv):
  return config_from_args(build_parser().parse_args(["explain", *argv]))


def test_sizes_parsed():
  assert _config().sizes == (3, 5, 10)
  assert _config("--seeding", "sizes", "--sizes", "10,4").sizes == (4, 10)


@pytest.mark.parametrize("argv, message", [
    (["--seeding", "sizes", "--sizes", "3,3"], "--sizes: sizes must be distinct"),
    (["--sizes", "4"], "--sizes: sizes is read by seeding='sizes' only"),
])
def test_sizes_refused(argv, message):
  with pytest.raises(CliError, match=message):
    _config(*argv)


@pytest.mark.parametrize("text", ["3,x", "0,5", ""])
def test_sizes_malformed(text, capsys):
  with pytest.raises((SystemExit, CliError)):
    build_parser().parse_args(["explain", "--sizes", text])
