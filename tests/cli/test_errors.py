"""Bad input of every kind: one ``evojax-lime: error:`` line naming the problem, the right status, no traceback,
and nothing left in the output folder."""
import os
import pickle

import numpy as np
import pytest

from tests.cli.conftest import FAST, cli, error_lines

USAGE, FAILURE = 2, 1


def _fails(tmp_path, *args, code, expect):
  """Runs ``explain *args`` into a fresh --out; checks the status, the one error line, and that no output exists."""
  out = tmp_path / "out"
  # FAST first: the options under test come later and win.
  result = cli("explain", *FAST, "--out", out, *args, cwd=tmp_path)
  lines = error_lines(result)
  assert result.returncode == code, result.stderr
  assert len(lines) == 1 and lines[0].startswith("evojax-lime: error: "), result.stderr
  for fragment in expect:
    assert fragment in lines[0], lines[0]
  assert not out.exists()
  return lines[0]


@pytest.mark.parametrize("key, expect", [
    ("missing", ["missing.jpg", "no such file"]),
    ("empty_dir", ["no_images", "no images"]),
    ("empty", ["empty.png", "empty file"]),
    ("text", ["text.jpg", "not an image"]),
])
def test_bad_image_paths(tmp_path, photos, key, expect):
  _fails(tmp_path, photos[key], code=FAILURE, expect=expect)


@pytest.mark.parametrize("args, expect", [
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
    (["--seeding", "greedy"], ["--seeding", "invalid choice", "occlusion"]),
])
def test_nonsensical_options(tmp_path, photos, args, expect):
  _fails(tmp_path, photos["cat"], *args, code=USAGE, expect=expect)


@pytest.mark.parametrize("target, expect", [
    ("1000", ["--target 1000 is out of range", "0..999"]),
    ("-1", ["--target -1 is out of range"]),
    ("tabby dog", ["'tabby dog' is no class", "tabby"]),
])
def test_target_that_does_not_exist(tmp_path, photos, target, expect):
  _fails(tmp_path, photos["cat"], "--target", target, code=USAGE, expect=expect)


def test_weights_that_do_not_fit(tmp_path, photos):
  import models

  path = tmp_path / "tiny.msgpack"
  wrong = {"params": {"dense": {"kernel": np.zeros((3, 2), np.float32)}}}
  models.save_variables(path, wrong, name="efficientnet_lite0")
  _fails(tmp_path, photos["cat"], "--weights", path, code=FAILURE, expect=["tiny.msgpack", "do not fit"])


class _Hostile:
  def __reduce__(self):
    return os.system, ("touch PWNED",)


def test_hostile_checkpoint_is_refused_without_running_it(tmp_path, photos):
  path = tmp_path / "evil.pth"
  path.write_bytes(pickle.dumps(_Hostile()))
  _fails(tmp_path, photos["cat"], "--weights", path, code=FAILURE, expect=["refusing to load", "evil.pth"])
  assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("name, data, expect", [
    # A refused global whose name carries terminal control characters: printed escaped, on one line.
    ("evil.pth", b"\x80\x02X\x05\x00\x00\x00os\x1b[2X\x06\x00\x00\x00sys\ntm\x93.",
     ["refusing to load", "evil.pth", r"'os\x1b[2.sys\ntm'"]),
    # msgpack whose array header names a zero-size dtype, which numpy itself rejects with a bare error.
    ("bad.msgpack", b"\x81\xa6params\x81\xa1w\xc7\x09\x01\x93\x91\x04\xc4\x02V0\xc4\x00",
     ["cannot load weights", "bad.msgpack", "not a numeric type"]),
])
def test_crafted_weights_file_is_one_escaped_line(tmp_path, photos, name, data, expect):
  path = tmp_path / name
  path.write_bytes(data)
  line = _fails(tmp_path, photos["cat"], "--weights", path, code=FAILURE, expect=expect)
  assert line.isprintable()


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
