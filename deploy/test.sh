#!/usr/bin/env bash
# The whole test suite: install, build, run every test with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/build.sh
ctest --test-dir build --output-on-failure -j"$(nproc)" --timeout 900
