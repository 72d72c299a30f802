"""``python -m tests.help_of MODULE ...``: each module's ``main(["--help"])`` output, headed ``=== MODULE``."""
import contextlib
import importlib
import io
import sys

for name in sys.argv[1:]:
  text = io.StringIO()
  with contextlib.redirect_stdout(text), contextlib.suppress(SystemExit):
    importlib.import_module(name).main(["--help"])
  print(f"=== {name}\n{text.getvalue()}", end="")
