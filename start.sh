#!/usr/bin/env bash
# The main job: set up if needed, ingest the bundled corpus if the index is empty, then answer.
#   ./start.sh "How many GPUs would 10 GW be, at the capstone guest's GPUs per gigawatt?"
#   ./start.sh            # no question: open the chat
set -euo pipefail
cd "$(dirname "$0")"
./scripts/setup.sh
. .venv/bin/activate
if [ "$(kb sources --count)" = "0" ]; then
  kb ingest
fi
if [ $# -gt 0 ]; then
  kb ask "$*"
else
  kb chat
fi
