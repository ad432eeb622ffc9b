#!/usr/bin/env bash
# The one entry point for working on async_minio_storage from a fresh clone:
#   ./dev.sh example [--port N]   run the example project on an embedded S3 server
#   ./dev.sh test [nox args]      lint, type-check and run every test session
#   ./dev.sh bench [args]         benchmark against the peers; writes docs/benchmarks.md
#   ./dev.sh docs                 build the documentation site into docs/_build/html
# Each sets itself up the first time: .venv-example for the example, .venv-dev with nox for
# the tests (nox then makes one virtualenv per session).
set -euo pipefail
cd "$(dirname "$0")"

run_example() {
    local venv=.venv-example
    if [ ! -f "$venv/.installed" ] || [ pyproject.toml -nt "$venv/.installed" ]; then
        echo "Setting up $venv (once)..."
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check -e ".[example]"
        touch "$venv/.installed"
    fi
    exec "$venv/bin/python" example_project/run.py "$@"
}

run_benchmarks() {
    local venv=.venv-bench
    if [ ! -f "$venv/.installed" ] || [ pyproject.toml -nt "$venv/.installed" ]; then
        echo "Setting up $venv (once)..."
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check -e ".[benchmarks]"
        touch "$venv/.installed"
    fi
    exec "$venv/bin/python" -m benchmarks "$@"
}

run_docs() {
    # The same build as the test run's "docs" session: warnings are errors.
    local venv=.venv-dev
    if [ ! -x "$venv/bin/nox" ]; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check "nox==2026.10.20"
    fi
    "$venv/bin/nox" -s docs "$@"
    echo "Built: file://$PWD/docs/_build/html/index.html"
}

run_tests() {
    local venv=.venv-dev
    if [ ! -x "$venv/bin/nox" ]; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check "nox==2026.10.20"
    fi
    exec "$venv/bin/nox" "$@"
}

# nox finds interpreters as pythonX.Y on PATH; add the ones pyenv installed, if any.
for dir in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[1-9]*/bin; do
    if [ -d "$dir" ]; then PATH="$PATH:$dir"; fi
done
export PATH

command="${1:-}"
shift || true
case "$command" in
    example) run_example "$@" ;;
    test) run_tests "$@" ;;
    bench) run_benchmarks "$@" ;;
    docs) run_docs "$@" ;;
    *)
        echo "usage: ./dev.sh example [--port N] | test [nox arguments] | bench [--quick] | docs" >&2
        exit 2
        ;;
esac
