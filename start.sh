#!/usr/bin/env bash
# The main job: set up if needed, ingest the bundled corpus if the index is empty, then search.
#   ./start.sh "how many GPUs is a gigawatt"
set -euo pipefail
cd "$(dirname "$0")"
./scripts/setup.sh
. .venv/bin/activate
if [ "$(kb sources --count)" = "0" ]; then
  kb ingest
fi
kb search "${*:-how many GPUs is a gigawatt}"
