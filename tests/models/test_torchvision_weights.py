"""``weights="torchvision"``: torchvision's own checkpoint file in torch's cache, found by name and hash-checked."""
import hashlib
import os
from pathlib import Path

import jax
import numpy as np
import pytest
import torch
import torchvision

import models
from models import torchvision_weights
from tests.cli.conftest import FAST, cli, error_lines


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
  monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
  return tmp_path / "torch" / "hub" / "checkpoints"


@pytest.mark.parametrize("env", [{"TORCH_HOME": "th"}, {"XDG_CACHE_HOME": "xdg"},
                                 {"TORCH_HOME": "th", "XDG_CACHE_HOME": "xdg"}, {}])
def test_folder_is_torch_hubs(tmp_path, monkeypatch, env):
  monkeypatch.delenv("TORCH_HOME", raising=False)
  monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
  monkeypatch.setenv("HOME", str(tmp_path / "home"))
  for key, value in env.items():
    monkeypatch.setenv(key, str(tmp_path / value))
  assert torchvision_weights.checkpoints_dir() == Path(torch.hub.get_dir()) / "checkpoints"


def test_file_names_are_torchvisions_imagenet1k_v1():
  for name, file_name in torchvision_weights.FILES.items():
    url = torchvision.models.get_model_weights(name).IMAGENET1K_V1.url
    assert url == f"https://download.pytorch.org/models/{file_name}", name
  # every registered port that torchvision also has is in the table
  assert set(models.available()) - set(torchvision_weights.FILES) == {
      n for n in models.available() if n.startswith("efficientnet_lite")}


def test_missing_file_says_what_to_fetch_and_where(torch_home):
  with pytest.raises(ValueError) as err:
    models.create("resnet50", weights="torchvision")
  message = str(err.value)
  assert "\n" not in message
  assert "https://download.pytorch.org/models/resnet50-0676ba61.pth" in message
  assert str(torch_home / "resnet50-0676ba61.pth") in message


@pytest.mark.parametrize("make, expect", [
    (lambda p: p.mkdir(), "is a folder"),
    (lambda p: os.mkfifo(p), "is a named pipe (FIFO)"),
    (lambda p: p.symlink_to(p.parent / "gone.pth"), "gone.pth, which does not exist"),
    (lambda p: p.symlink_to("/dev/zero"), "a symbolic link to /dev/zero, which is a character device"),
], ids=["folder", "fifo", "dangling_link", "link_to_dev_zero"])
def test_something_else_in_place_of_the_file_is_named(torch_home, make, expect):
  torch_home.mkdir(parents=True)
  path = torch_home / "resnet50-0676ba61.pth"
  make(path)
  with pytest.raises(ValueError) as err:
    models.create("resnet50", weights="torchvision")  # neither blocks on the FIFO nor reads /dev/zero
  message = str(err.value)
  assert f"torchvision weights {path} is " in message and expect in message and "not found" not in message
  assert "not the weights file; remove it, then fetch https://download.pytorch.org/models/resnet50" in message


def test_wrong_hash_is_refused(torch_home):
  torch_home.mkdir(parents=True)
  (torch_home / "mobilenet_v3_small-047dcff4.pth").write_bytes(b"not the checkpoint")
  with pytest.raises(ValueError, match=r"sha256 starts with [0-9a-f]{8}, not 047dcff4; delete it and fetch "
                                       r"https://download.pytorch.org/models/mobilenet_v3_small-047dcff4.pth"):
    models.create("mobilenet_v3_small", weights="torchvision")


def test_no_torchvision_weights_for_lite():
  with pytest.raises(ValueError, match="efficientnet_lite0 has no torchvision weights; models that do: convnext_base"):
    models.create("efficientnet_lite0", weights="torchvision")


def test_checkpoint_with_matching_hash_loads(torch_home, monkeypatch):
  torch_home.mkdir(parents=True)
  torch.manual_seed(0)
  staging = torch_home / "staging.pth"
  torch.save(torchvision.models.mobilenet_v3_small().state_dict(), staging)
  prefix = hashlib.sha256(staging.read_bytes()).hexdigest()[:8]
  name = f"mobilenet_v3_small-{prefix}.pth"  # a real file name carries its own contents' hash prefix
  staging.rename(torch_home / name)
  monkeypatch.setitem(torchvision_weights.FILES, "mobilenet_v3_small", name)
  by_name = models.create("mobilenet_v3_small", weights="torchvision")
  by_path = models.create("mobilenet_v3_small", weights=torch_home / name)
  jax.tree_util.tree_map(np.testing.assert_array_equal, by_name.variables, by_path.variables)


def test_cli_missing_torchvision_weights(tmp_path, torch_home):
  from PIL import Image
  from skimage import data
  Image.fromarray(data.chelsea()).save(tmp_path / "cat.png")
  result = cli("explain", tmp_path / "cat.png", *FAST, "--model", "resnet18", "--weights", "torchvision",
               "--out", tmp_path / "out", cwd=tmp_path)
  lines = error_lines(result)
  assert result.returncode == 1, result.stderr
  assert lines == [f"evojax-lime: error: resnet18: torchvision weights not found: fetch "
                   f"https://download.pytorch.org/models/resnet18-f37072fd.pth and save it as "
                   f"{torch_home / 'resnet18-f37072fd.pth'} (torchvision's own download puts it there; TORCH_HOME "
                   f"moves the folder)"]
