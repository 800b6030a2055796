#!/usr/bin/env bash
# Set up if needed, then run the test suite: everything (what CI runs), or the quick tier with
# `./test.sh -m "not slow"` (no real model, server or subprocess). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
./scripts/setup.sh
.venv/bin/python -m pytest -q "$@"
