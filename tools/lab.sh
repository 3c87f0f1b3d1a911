#!/usr/bin/env bash
# Open the course in JupyterLab from the project's environment, at notebook 01.
#
#   tools/lab.sh [--venv DIR] [--host ADDRESS] [--port N] [--dry-run]
#
#   --venv DIR      the environment to run JupyterLab from [.venv]
#   --host ADDRESS  the address to listen on [localhost]; 0.0.0.0 in a container whose
#                   browser is on the host (`make lab HOST=0.0.0.0`): the token is still required
#   --port N        the first port to try [$PORT, else 8888]; on a busy port it tries the next ones
#   --dry-run       print the command instead of running it
#
# - The URL it prints (with its token) opens notebook 01: it is the server's default URL.
# - As root (a container), JupyterLab refuses to start unless told --allow-root.
# - With no display there is no browser to open: the printed URL is the way in.
set -euo pipefail
usage() { sed -n '3,10s/^# \{0,1\}//p' "$0"; }

venv=.venv host=localhost port=${PORT:-8888} dry_run=
while [ $# -gt 0 ]; do
    case $1 in
        --venv) venv=${2:?--venv needs a folder}; shift 2 ;;
        --host) host=${2:?--host needs an address, e.g. 0.0.0.0}; shift 2 ;;
        --port) port=${2:?--port needs a number}; shift 2 ;;
        --dry-run) dry_run=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "tools/lab.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done
case $port in ''|*[!0-9]*) echo "tools/lab.sh: --port must be a number, got '$port'" >&2; exit 2 ;; esac

cd "$(dirname "$0")/.."
first=notebooks/01_forward_equations.ipynb
args=(--ServerApp.root_dir="$PWD" --ServerApp.ip="$host" --ServerApp.port="$port"
      --ServerApp.port_retries=50 --LabApp.default_url="/lab/tree/$first")
if [ "$(id -u)" = 0 ]; then
    args+=(--allow-root)
fi
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ "$(uname)" = Linux ] && ! grep -qi microsoft /proc/version 2>/dev/null; then
    args+=(--no-browser)   # nothing to open a window on: the URL below is the way in
    echo "No display found: open the URL printed below (it opens $first) in your browser."
fi
if [ "$host" = 0.0.0.0 ] || [ "$host" = "::" ]; then
    echo "Listening on every address ($host): from the host, open the URL below with this machine's address (or localhost where the port is forwarded); keep its token."
fi
if [ -n "$dry_run" ]; then
    printf '%q ' "$venv/bin/jupyter" lab "${args[@]}"; echo
    exit 0
fi
exec "$venv/bin/jupyter" lab "${args[@]}"
