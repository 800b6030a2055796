#!/usr/bin/env bash
# Create .venv and install kb with its test tools; does nothing when already up to date.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      PY=$candidate; break
    fi
  done
fi
[ -n "$PY" ] || { echo "setup: Python 3.11 or newer is needed" >&2; exit 1; }
stamp=.venv/.kb-installed
if [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ] && [ -x .venv/bin/kb ]; then
  exit 0
fi
echo "setup: creating .venv and installing kb (first run takes a few minutes)..." >&2
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# Pinned so pip takes the CPU build where one is provided, instead of gigabytes of CUDA packages.
.venv/bin/python -m pip install -q "torch==${KB_TORCH_VERSION:-2.13.0}"
.venv/bin/python -m pip install -q -e ".[dev]"
# The local model extra (tests/test_local_model.py) compiles llama.cpp, once; portable CPU code.
# KB_SETUP_LOCAL=0 skips it; a failed build is reported and its test skips.
if [ "${KB_SETUP_LOCAL:-1}" != "0" ]; then
  echo "setup: building the local model extra (llama-cpp-python; about 10 minutes on 2 cores, once)..." >&2
  CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" .venv/bin/python -m pip install -q -e ".[dev,local]" \
    || echo "setup: the local model extra did not install; tests/test_local_model.py will be skipped" >&2
fi
# The browser test (tests/test_brief_corpus.py) renders a brief in Debian's chromium; on CI, as
# root with apt-get, install it once. Elsewhere, or when the install fails, that test skips.
if [ -n "${CI:-}" ] && ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 \
   && [ "$(id -u)" = "0" ]; then
  echo "setup: installing chromium for the browser test (apt-get, once)..." >&2
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium; } \
    >/dev/null 2>&1 || echo "setup: chromium did not install; the browser test will be skipped" >&2
fi
touch "$stamp"
