#!/usr/bin/env bash
# Builds easel-trainer and the trainer's tests on a bare CUDA host, against the libtorch of
# the host's PyTorch, then runs those tests. The host needs PyTorch, CMake, Ninja and a C++20
# compiler; everything else is header-only or comes from Debian 12 packages unpacked into a
# sysroot: libabsl-dev libabsl20220623 nlohmann-json3-dev libgtest-dev libgmock-dev
# libcli11-dev libstb-dev libstb0 libssl-dev libssl3 zlib1g-dev zlib1g
# (fetch them with `apt-get download` on a Debian 12 machine; name their folder in EASEL_DEBS).
#
#   EASEL_DEBS=path/to/debs deploy/build-trainer-cuda.sh [BUILD_DIR] [-- CTEST_ARGS...]
#
# EASEL_SHARED_DIR overrides where the tests find shared/ (the CLIP vocabulary).
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-cuda
if [ $# -gt 0 ] && [ "$1" != "--" ]; then build=$1; shift; fi
[ "${1:-}" = "--" ] && shift
mkdir -p "$build"
sysroot="$PWD/$build/sysroot"
if [ -n "${EASEL_DEBS:-}" ]; then
  mkdir -p "$sysroot"
  for deb in "$EASEL_DEBS"/*.deb; do dpkg-deb -x "$deb" "$sysroot"; done
fi
torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
export LD_LIBRARY_PATH="$sysroot/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DEASEL_TRAINER_ONLY=ON \
  -DCMAKE_PREFIX_PATH="$torch_prefix;$sysroot/usr" -DOPENSSL_ROOT_DIR="$sysroot/usr" \
  -DEASEL_SHARED_DIR="${EASEL_SHARED_DIR:-$PWD/../shared}" > "$build/configure.log" 2>&1 \
  || { cat "$build/configure.log"; exit 1; }
cmake --build "$build" -j"$(nproc)"
# The tests run on the CPU, one per core: a single libtorch thread each, or nproc tests with
# nproc threads apiece oversubscribe the host many times over (seen: 5-minute timeouts).
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} ctest --test-dir "$build" --output-on-failure \
  -j"$(nproc)" "$@"
