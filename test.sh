#!/usr/bin/env bash
# Set up if needed, then run the whole test suite (what CI runs).
# The chat (REPL) tests run in their own pytest process first: prompt_toolkit's event loop must not
# share a process with the servers and threads that earlier tests leave behind.
set -euo pipefail
cd "$(dirname "$0")"
./scripts/setup.sh
.venv/bin/python -m pytest -q tests/test_repl.py "$@"
.venv/bin/python -m pytest -q --ignore=tests/test_repl.py "$@"
