"""Where the command line keeps compiled programs, and JAX's cache settings left as they were."""
import errno

import jax
import pytest

from evojax_lime.engine import program_store
from evojax_lime.engine import compilation_cache
from evojax_lime.engine.compilation_cache import (default_cache_dir, enable_compilation_cache, run_cache,
                                                  try_compilation_cache)

_SETTINGS = ("jax_compilation_cache_dir", "jax_enable_compilation_cache", "jax_persistent_cache_min_compile_time_secs",
             "jax_persistent_cache_min_entry_size_bytes")


def _settings():
  return {name: getattr(jax.config, name) for name in _SETTINGS}


@pytest.mark.parametrize("xdg", [None, "", "relative/cache", "./cache"])
def test_an_unset_or_relative_xdg_cache_home_is_ignored(monkeypatch, tmp_path, xdg):
  monkeypatch.setenv("HOME", str(tmp_path / "home"))
  if xdg is None:
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
  else:
    monkeypatch.setenv("XDG_CACHE_HOME", xdg)
  assert default_cache_dir() == tmp_path / "home" / ".cache" / "evojax-lime"


def test_an_absolute_xdg_cache_home_is_used(monkeypatch, tmp_path):
  monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
  assert default_cache_dir() == tmp_path / "xdg" / "evojax-lime"


@pytest.mark.parametrize("under", [False, True])
def test_a_file_where_the_folder_would_be_is_named_in_the_note(tmp_path, under):
  blocker = tmp_path / "a_file"
  blocker.write_text("not a folder")
  before = _settings()
  note = try_compilation_cache(blocker / "cache" if under else blocker)
  assert note == f"compiled programs are not cached: {blocker} is a regular file, not a folder"
  assert _settings() == before and blocker.read_text() == "not a folder"


def test_an_unwritable_folder_leaves_the_settings_as_they_were(tmp_path, monkeypatch):
  def refused(**_):
    raise PermissionError(errno.EACCES, "Permission denied")
  monkeypatch.setattr(compilation_cache.tempfile, "NamedTemporaryFile", refused)  # (root may write anywhere)
  before = _settings()
  assert try_compilation_cache(tmp_path) == f"compiled programs are not cached: {tmp_path}: Permission denied"
  assert _settings() == before  # a caller's own cache folder is still theirs


def test_a_run_without_caches_turns_off_a_callers_cache_and_gives_it_back(tmp_path):
  before = _settings()
  jax.config.update("jax_compilation_cache_dir", str(tmp_path / "theirs"))  # as JAX_COMPILATION_CACHE_DIR sets it
  try:
    assert program_store.store_folder() is not None
    with run_cache(None) as note:
      assert note is None and program_store.store_folder() is None
      assert not jax.config.jax_enable_compilation_cache
    assert program_store.store_folder() == tmp_path / "theirs" / "evojax-lime-programs"
    with run_cache(tmp_path / "ours") as note:
      assert note is None and program_store.store_folder() == tmp_path / "ours" / "evojax-lime-programs"
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    with run_cache(blocker) as note:
      assert "not a folder" in note and program_store.store_folder() is None
    assert jax.config.jax_compilation_cache_dir == str(tmp_path / "theirs")
  finally:
    for name, value in before.items():
      jax.config.update(name, value)
  assert _settings() == before


@pytest.mark.parametrize("directory", [None, "", 3])
def test_enabling_without_a_folder_is_refused_and_changes_nothing(directory):
  before = _settings()
  with pytest.raises(TypeError, match="directory must be the path of a folder"):
    enable_compilation_cache(directory)
  assert _settings() == before
