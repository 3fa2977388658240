#!/usr/bin/env bash
# Idempotent set-up: Debian packages (Fashion-MNIST, Chromium for the browser tests) and the
# pinned Python packages. Run as root on a fresh Debian machine; skips what is already there.
set -euo pipefail
cd "$(dirname "$0")"
need=()
[ -d /usr/share/datasets/fashion-mnist ] || need+=(dataset-fashion-mnist)
if [ "${1:-}" = "--tests" ] && ! command -v chromium >/dev/null; then need+=(chromium fonts-dejavu-core); fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "note: could not install ${need[*]} (needs root and apt-get); continuing" >&2
  fi
fi
python3 -m pip install -q --disable-pip-version-check -r requirements.txt
