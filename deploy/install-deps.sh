#!/usr/bin/env bash
# Installs everything Easel needs to build and run on Debian 12. Safe to run again.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git ca-certificates zip unzip
  libtorch-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libzip-dev zipcmp zipmerge ziptool
  libabsl-dev prometheus-cpp-dev libsqlite3-dev nlohmann-json3-dev
  libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev
  libopencv-objdetect-dev libopencv-contrib-dev opencv-data libjpeg-dev
  libcli11-dev libyaml-cpp-dev libcpp-httplib-dev libssl-dev
  libgtest-dev libgmock-dev libstb-dev
  python3-pil
)

# Node.js runs the test that drives the HTTP API with Replicate's official JavaScript client.
# A Node.js already installed (e.g. NodeSource's, which brings its own npm) is kept.
command -v node > /dev/null && command -v npm > /dev/null || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
echo "install-deps: installing ${missing[*]}"
$sudo_cmd apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
