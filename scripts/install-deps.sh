#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages QwenVL builds against (skips apt when they are already present).
set -euo pipefail
packages=(libopenblas-dev libdnnl-dev libturbojpeg0-dev libjpeg62-turbo-dev libpng-dev libwebp-dev libavformat-dev libavcodec-dev libswscale-dev libavutil-dev pkg-config python3 python3-venv curl nginx-light)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
# Ubuntu names libjpeg-turbo's dev package libjpeg-turbo8-dev.
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  for p in "${missing[@]}"; do
    if [ "$p" = libjpeg62-turbo-dev ] && ! apt-cache show "$p" >/dev/null 2>&1; then p=libjpeg-turbo8-dev; fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$p" >/dev/null
  done
fi
if ! command -v swift >/dev/null 2>&1; then
  echo "error: Swift 6 toolchain not found on PATH (install from swift.org)" >&2
  exit 1
fi
