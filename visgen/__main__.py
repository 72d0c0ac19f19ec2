"""``python -m visgen`` is the ``visgen`` command."""
import sys

from .cli.main import main

sys.exit(main())
