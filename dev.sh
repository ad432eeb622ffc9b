#!/usr/bin/env bash
# The one entry point for working on async_minio_storage from a fresh clone:
#   ./dev.sh test [nox args]   lint, type-check and run the suite on every supported Django
#   ./dev.sh example           run the example project on an embedded S3 server (issue #5)
# It creates .venv-dev with nox the first time; nox creates one virtualenv per session.
set -euo pipefail
cd "$(dirname "$0")"

venv=.venv-dev
if [ ! -x "$venv/bin/nox" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "nox==2026.10.20"
fi

# nox finds interpreters as pythonX.Y on PATH; add the ones pyenv installed, if any.
for dir in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[1-9]*/bin; do
    if [ -d "$dir" ]; then PATH="$PATH:$dir"; fi
done
export PATH

command="${1:-}"
shift || true
case "$command" in
    test) exec "$venv/bin/nox" "$@" ;;
    *)
        echo "usage: ./dev.sh test [nox arguments]" >&2
        exit 2
        ;;
esac
