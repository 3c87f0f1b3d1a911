#!/usr/bin/env bash
# Open the course in JupyterLab from the project's environment.
# - as root (a container), JupyterLab refuses to start unless told --allow-root;
# - with no browser it still prints the URL with its token;
# - on a busy port it tries the next ones (port_retries).
set -euo pipefail
venv=${1:-.venv}
cd "$(dirname "$0")/.."
args=(--ServerApp.root_dir="$PWD" --ServerApp.port="${PORT:-8888}" --ServerApp.port_retries=50)
if [ "$(id -u)" = 0 ]; then
    args+=(--allow-root)
fi
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ "$(uname)" = Linux ] && ! grep -qi microsoft /proc/version 2>/dev/null; then
    args+=(--no-browser)   # nothing to open a window on: the URL below is the way in
    echo "No display found: open the URL printed below in your browser."
fi
exec "$venv/bin/jupyter" lab "${args[@]}" notebooks/01_forward_equations.ipynb
