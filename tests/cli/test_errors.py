"""Bad input of every kind: one ``evojax-lime: error:`` line naming the problem, the right status, no traceback,
and nothing left in the output folder. The refusals run in one process (``cli_many``); the last two tests launch
the command itself."""
import os
import pickle

import numpy as np
import pytest

from evojax_lime.cli.outputs import MANIFEST
from tests.cli.conftest import FAST, cli, cli_many, error_lines

USAGE, FAILURE = 2, 1


BAD_PATHS = {"missing": ["missing.jpg", "no such file"], "empty_dir": ["no_images", "no images"],
             "empty": ["empty.png", "empty file"], "text": ["text.jpg", "not an image"]}
NONSENSICAL = [
    (["--population", "-3"], ["--population", "population_size", "-3"]),
    (["--mutation-rate", "2"], ["--mutation-rate", "probability"]),
    (["--elite", "8"], ["--elite", "smaller than population_size"]),
    (["--generations", "many"], ["--generations", "invalid int value"]),
    (["--segmentation", "voronoi"], ["--segmentation", "invalid choice", "quickshift"]),
    (["--model", "efficientnet_lite9"], ["unknown model", "efficientnet_lite0"]),
    (["--model", "resnet50"], ["resnet50 has no bundled weights", "--weights"]),
    (["--weights", "nowhere.pth"], ["--weights", "nowhere.pth", "no such file"]),
    (["--objective", "pareto", "--elite", "4"], ["--objective pareto", "does not use --elite"]),
    (["--objective", "pareto", "--restarts", "3"], ["--objective pareto", "--restarts are for the ga"]),
    (["--seeding", "bogus"], ["--seeding", "invalid choice", "greedy"]),
]
TARGETS = [("1000", ["--target 1000 is out of range", "0..999"]), ("-1", ["--target -1 is out of range"]),
           ("tabby dog", ["'tabby dog' is no class", "tabby"])]
CRAFTED = [
    # A refused global whose name carries terminal control characters: printed escaped, on one line.
    ("evil.pth", b"\x80\x02X\x05\x00\x00\x00os\x1b[2X\x06\x00\x00\x00sys\ntm\x93.",
     ["refusing to load", "evil.pth", r"'os\x1b[2.sys\ntm'"]),
    # msgpack whose array header names a zero-size dtype, which numpy itself rejects with a bare error.
    ("bad.msgpack", b"\x81\xa6params\x81\xa1w\xc7\x09\x01\x93\x91\x04\xc4\x02V0\xc4\x00",
     ["cannot load weights", "bad.msgpack", "not a numeric type"]),
]


class _Hostile:
  def __reduce__(self):
    return os.system, ("touch PWNED",)


def _weights_files(folder):
  """The weights files the cases name, each in its case's folder."""
  import models

  wrong = {"params": {"dense": {"kernel": np.zeros((3, 2), np.float32)}}}
  models.save_variables(folder["misfit"] / "tiny.msgpack", wrong, name="efficientnet_lite0")
  (folder["hostile"] / "evil.pth").write_bytes(pickle.dumps(_Hostile()))
  for i, (name, data, _) in enumerate(CRAFTED):
    (folder[f"crafted{i}"] / name).write_bytes(data)


@pytest.fixture(scope="module")
def refused(tmp_path_factory, photos):
  """Every refused command line of this module (case name -> ``(result, its folder)``), run in one process.

  Each case runs ``explain`` with FAST first (the options under test come later and win) into ``out`` in a
  folder of its own."""
  cat = photos["cat"]
  cases = {f"path_{key}": [photos[key]] for key in BAD_PATHS}
  cases.update({f"option{i}": [cat, *args] for i, (args, _) in enumerate(NONSENSICAL)})
  cases.update({f"target{i}": [cat, "--target", target] for i, (target, _) in enumerate(TARGETS)})
  cases["misfit"] = [cat, "--weights", "tiny.msgpack"]
  cases["hostile"] = [cat, "--weights", "evil.pth"]
  cases.update({f"crafted{i}": [cat, "--weights", name] for i, (name, _, _) in enumerate(CRAFTED)})
  cases["bracket_list"] = [cat]
  base = tmp_path_factory.mktemp("refused")
  folder = {name: base / name for name in cases}
  for path in folder.values():
    path.mkdir()
  _weights_files(folder)
  (folder["bracket_list"] / "out").mkdir()
  (folder["bracket_list"] / "out" / MANIFEST).write_text("[" * 100_000 + "\n")
  results = cli_many([(folder[name], ("explain", *FAST, "--out", "out", *args)) for name, args in cases.items()])
  return {name: (result, folder[name]) for name, result in zip(cases, results)}


def _fails(refused, name, *, code, expect):
  """Checks case ``name``'s status, its one error line, and that no output exists."""
  result, folder = refused[name]
  lines = error_lines(result)
  assert result.returncode == code, result.stderr
  assert len(lines) == 1 and lines[0].startswith("evojax-lime: error: "), result.stderr
  for fragment in expect:
    assert fragment in lines[0], lines[0]
  assert not (folder / "out").exists()
  return lines[0]


@pytest.mark.parametrize("key", BAD_PATHS)
def test_bad_image_paths(refused, key):
  _fails(refused, f"path_{key}", code=FAILURE, expect=BAD_PATHS[key])


@pytest.mark.parametrize("i", range(len(NONSENSICAL)), ids=[" ".join(args) for args, _ in NONSENSICAL])
def test_nonsensical_options(refused, i):
  _fails(refused, f"option{i}", code=USAGE, expect=NONSENSICAL[i][1])


@pytest.mark.parametrize("i", range(len(TARGETS)), ids=[t for t, _ in TARGETS])
def test_target_that_does_not_exist(refused, i):
  _fails(refused, f"target{i}", code=USAGE, expect=TARGETS[i][1])


def test_weights_that_do_not_fit(refused):
  _fails(refused, "misfit", code=FAILURE, expect=["tiny.msgpack", "do not fit"])


def test_hostile_checkpoint_is_refused_without_running_it(refused):
  _fails(refused, "hostile", code=FAILURE, expect=["refusing to load", "evil.pth"])
  assert not (refused["hostile"][1] / "PWNED").exists()


@pytest.mark.parametrize("i", range(len(CRAFTED)), ids=[name for name, _, _ in CRAFTED])
def test_crafted_weights_file_is_one_escaped_line(refused, i):
  line = _fails(refused, f"crafted{i}", code=FAILURE, expect=CRAFTED[i][2])
  assert line.isprintable()


def test_a_damaged_list_of_written_files_is_one_error(refused):
  # Issue 31 item 10: one line of 100,000 "[" ended the run with "unexpected RecursionError".
  result, folder = refused["bracket_list"]
  (line,) = error_lines(result)
  assert result.returncode == FAILURE
  assert line == (f"evojax-lime: error: out/{MANIFEST}: line 1 is not an entry of the list of the files evojax-lime "
                  f"wrote there (edited or damaged); nothing was written: move it away (every file beside it is then "
                  f"treated as yours) or choose another --out")
  assert [p.name for p in (folder / "out").iterdir()] == [MANIFEST]


def test_unwritable_output_folder(tmp_path, photos):
  blocker = tmp_path / "a_file"
  blocker.write_text("a file where a folder should be")
  result = cli("explain", photos["cat"], *FAST, "--out", blocker / "out", cwd=tmp_path)
  (line,) = error_lines(result)
  assert result.returncode == FAILURE
  assert line.startswith("evojax-lime: error: cannot write to output folder") and "a_file" in line
  assert blocker.read_text().startswith("a file")


def test_every_bad_argument_is_reported(tmp_path, photos):
  # One bad photo among good ones is in test_outputs; here no argument names a photo, so nothing is loaded.
  out = tmp_path / "out"
  result = cli("explain", photos["missing"], photos["empty_dir"], *FAST, "--out", out, cwd=tmp_path)
  assert result.returncode == FAILURE
  assert len(error_lines(result)) == 2 and not out.exists()
