"""``python -m tds_emulator``: the ``tds-emulator`` command; see :mod:`tds_emulator.cli`."""

import sys

from .cli import main

sys.exit(main(prog="python -m tds_emulator"))
