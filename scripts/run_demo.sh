#!/usr/bin/env bash
# The main job: run the pipeline on the built-in example into a fresh directory.
set -euo pipefail
cd "$(dirname "$0")/.."
demo_dir=${1:-demo_run}
export PATH="$PWD/.venv/bin:$PATH"
mkdir -p "$demo_dir"
echo "Running the toy pipeline (example/config.ini) into example/output ..."
shapepipe_run -c example/config.ini
echo "Done: outputs and logs are under example/output/ (newest shapepipe_run_* directory)."
