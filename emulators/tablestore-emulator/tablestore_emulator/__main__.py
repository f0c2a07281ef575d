"""``python -m tablestore_emulator``: the ``tablestore-emulator`` command; see :mod:`tablestore_emulator.cli`."""

import sys

from .cli import main

sys.exit(main(prog="python -m tablestore_emulator"))
