#!/usr/bin/env bash
# Make sure a Chromium exists for Playwright. Order: FLEET_BROWSER_PATH, Debian's
# chromium and chromium-headless-shell (/usr/lib/chromium/), else install Debian's
# packages (as root), else Playwright's own download (works on a normal network,
# not on this one). Headless runs use the headless shell (half the CPU per
# document, docs/performance.md); the full browser is for a headed run.
set -euo pipefail
if [[ -n "${FLEET_BROWSER_PATH:-}" ]]; then
  [[ -x "$FLEET_BROWSER_PATH" ]] || { echo "FLEET_BROWSER_PATH=$FLEET_BROWSER_PATH is not an executable" >&2; exit 1; }
  exit 0
fi
if [[ -x /usr/lib/chromium/chromium && -x /usr/lib/chromium/chromium-headless-shell ]]; then exit 0; fi
if command -v apt-get >/dev/null && [[ $(id -u) -eq 0 ]]; then
  echo "Installing Debian's chromium and chromium-headless-shell (one time)..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium chromium-headless-shell >/dev/null
  exit 0
fi
if command -v sudo >/dev/null && command -v apt-get >/dev/null; then
  echo "Installing Debian's chromium and chromium-headless-shell with sudo (one time)..."
  sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-headless-shell >/dev/null
  exit 0
fi
echo "No system Chromium; asking Playwright for its own build..."
.venv/bin/python -m playwright install chromium
