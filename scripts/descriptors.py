#!/usr/bin/env python3
"""Generate the deploy descriptors (template.yml, s.yaml, deploy/*-policy.json): see `deploy.descriptors`.

    python scripts/descriptors.py           write them
    python scripts/descriptors.py --check   exit 1 if any of them differs from what would be written
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]

from deploy.descriptors import main  # noqa: E402  (after the path is set)

if __name__ == "__main__":
    sys.exit(main())
