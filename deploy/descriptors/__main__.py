"""`python -m deploy.descriptors [--check]`: the same as `python scripts/descriptors.py [--check]`."""

import sys

from . import main

sys.exit(main())
