"""``python -m evojax_lime.cli``: the same as the ``evojax-lime`` console script."""
import sys

from evojax_lime.cli import main

sys.exit(main())
