#!/usr/bin/env python3
"""Start, stop and inspect LocalStack (`make up` / `down` / `status` / `logs`, and `venv`).

The entry point the Makefile and .ci/run call: ``python3 scripts/hostmode.py <command>``.
The launcher itself is the package ``scripts/launcher`` (usage: ``launcher/cli.py``).
Standard library only; runs under any python3 >= 3.9.
"""

from __future__ import annotations

import sys

from launcher.cli import main

if __name__ == "__main__":
    sys.exit(main())
