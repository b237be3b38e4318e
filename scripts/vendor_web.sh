#!/usr/bin/env bash
# The web app's browser libraries (htmx; pdf.js to show PDFs in the page), from the npm registry at pinned versions and
# checked against pinned SHA-256 digests (no CDN at run time: the app serves
# them from web/static/vendor/, so it works offline). Run by `make setup`.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=web/static/vendor
# package@version  file-in-package  sha256
PINS=(
  "htmx.org@2.0.11 package/dist/htmx.min.js d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"
  "pdfjs-dist@4.10.38 package/build/pdf.min.mjs 27fc2a057a00f92a4334ad06e17dbd7259912954e9fb7f76400bcca5fd190a9c"
  "pdfjs-dist@4.10.38 package/build/pdf.worker.min.mjs 1baa1844c89c80a5b2797c916e75ab29254be46d8e9cb53cb6364d7aad84be36"
)
mkdir -p "$DEST"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for pin in "${PINS[@]}"; do
  read -r spec member digest <<<"$pin"
  out="$DEST/$(basename "$member")"
  if [[ -f "$out" ]] && echo "$digest  $out" | sha256sum --check --status; then
    continue
  fi
  command -v npm >/dev/null || { echo "npm is needed to fetch $spec (apt install npm)" >&2; exit 1; }
  (cd "$work" && npm pack "$spec" --silent >/dev/null)
  tar -xzf "$work"/*.tgz -C "$work" "$member"
  echo "$digest  $work/$member" | sha256sum --check --status || {
    echo "$spec: $member does not match the pinned sha256" >&2; exit 1; }
  install -m 0644 "$work/$member" "$out"
  rm -f "$work"/*.tgz
  echo "vendored $spec -> $out"
done
