"""The command line keeps compiled programs on disk by default; a cache it cannot use is a note, never a failure."""
import json
import shutil

import pytest

from tests.cli.conftest import FAST, cli, error_lines

pytestmark = pytest.mark.slow  # minutes on 2 cores: the fast tier skips it, CI runs it


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, photos):
  """One run with the default cache under its own ``$XDG_CACHE_HOME``: ``(home, output folder)``."""
  root = tmp_path_factory.mktemp("cached")
  home = root / "xdg"
  result = cli("explain", photos["cat"], *FAST, "--out", root / "one", cwd=root, env={"XDG_CACHE_HOME": home})
  assert result.returncode == 0, result.stderr
  return home, root / "one"


def test_programs_cached_by_default_and_reused(tmp_path, photos, first_run):
  home, first_out = first_run
  cache = home / "evojax-lime"
  assert cache.is_dir() and any(cache.iterdir())
  second = cli("explain", photos["cat"], *FAST, "--out", tmp_path / "two", cwd=tmp_path, env={"XDG_CACHE_HOME": home})
  assert second.returncode == 0, second.stderr
  compile_s = [json.loads((out / f"{photos['cat'].stem}.json").read_text())["timings"]["compile"]
               for out in (first_out, tmp_path / "two")]
  # Tracing and lowering remain; XLA's compile (most of the time) is replaced by loading the first's program.
  assert compile_s[1] < compile_s[0] / 2, compile_s


def test_no_cache_writes_nothing(tmp_path, photos):
  home, jax_cache = tmp_path / "xdg", tmp_path / "jax"
  home.mkdir()
  # JAX_COMPILATION_CACHE_DIR is JAX's own switch: --no-cache still keeps nothing there, stored programs included.
  result = cli("explain", photos["cat"], *FAST, "--no-cache", "--out", tmp_path / "out", cwd=tmp_path,
               env={"XDG_CACHE_HOME": home, "JAX_COMPILATION_CACHE_DIR": jax_cache})
  assert result.returncode == 0, result.stderr
  assert any((tmp_path / "out").glob("*_overlay.png"))
  assert list(home.iterdir()) == []  # neither evojax-lime's nor matplotlib's font cache
  assert not jax_cache.exists() or [p for p in jax_cache.rglob("*") if p.is_file()] == []


def test_unusable_cache_folder_is_a_note(tmp_path, photos):
  blocker = tmp_path / "not_a_folder"
  blocker.write_text("a file where the cache folder would go")
  result = cli("explain", photos["cat"], *FAST, "--cache-dir", blocker, "--out", tmp_path / "out", cwd=tmp_path)
  assert result.returncode == 0, result.stderr
  notes = [line for line in error_lines(result) if line.startswith("evojax-lime: note:")]
  assert notes == [f"evojax-lime: note: compiled programs are not cached: {blocker} is a regular file, not a folder"]
  assert blocker.read_text() == "a file where the cache folder would go"
  assert any((tmp_path / "out").glob("*_overlay.png"))


def test_no_cache_with_cache_dir_is_refused(tmp_path, capsys):
  from evojax_lime.cli import main
  assert main(["explain", "--no-cache", "--cache-dir", str(tmp_path / "c")]) == 2
  assert capsys.readouterr().err.splitlines() == [
      "evojax-lime: error: --no-cache and --cache-dir contradict each other: give one of them"]
  assert not (tmp_path / "c").exists()


def test_damaged_cache_entries_never_fail_the_run(tmp_path, photos, first_run):
  cache = tmp_path / "cache"
  shutil.copytree(first_run[0] / "evojax-lime", cache)
  entries = [p for p in cache.rglob("*") if p.is_file()]
  assert entries
  for entry in entries:
    entry.write_bytes(b"\x00damaged" * 8)
  second = cli("explain", photos["cat"], *FAST, "--cache-dir", cache, "--out", tmp_path / "two", cwd=tmp_path)
  assert second.returncode == 0, second.stderr
  # JAX treats an entry it cannot read as a miss (and may warn): anything said is a one-line note.
  assert all(line.startswith("evojax-lime: note:") for line in error_lines(second))
  assert any((tmp_path / "two").glob("*_overlay.png"))
