"""``python -m tablestore_emulator``: see :mod:`tablestore_emulator.cli`."""

import sys

from .cli import main

sys.exit(main())
