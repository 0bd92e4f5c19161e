#!/usr/bin/env bash
# The whole test suite: install, build, run every test with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
# The tokenizer tests read CLIP's vocabulary from shared/ beside the checkout (or from
# EASEL_SHARED_DIR): say so now rather than after the build.
shared=${EASEL_SHARED_DIR:-$PWD/../shared}
if [ ! -f "$shared/data/clip/bpe_simple_vocab_16e6.txt.gz" ]; then
  echo "deploy/test.sh: the tests need CLIP's vocabulary in $shared/data/clip/ (the shared/" \
       "folder beside the checkout); clone Easel next to shared/ or set EASEL_SHARED_DIR." >&2
  exit 2
fi
export EASEL_SHARED_DIR=$shared
bash deploy/build.sh
ctest --test-dir build --output-on-failure -j"$(nproc)" --timeout 900
