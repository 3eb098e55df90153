#!/bin/sh
# Regenerates the console screenshots in docs/console/ (shown by
# docs/console.md): runs the browser tests, which walk the setup guide in
# Debian's chromium through chromedriver, with SCIM_SCREENSHOTS set, so each
# page they check is saved as docs/console/<page>.png, 1280 px wide.
# Needs chromium and chromium-driver (apt-get install chromium chromium-driver).
set -eu
cd "$(dirname "$0")/.."
out="$(pwd)/docs/console"
mkdir -p "$out"
rm -f "$out"/*.png
SCIM_SCREENSHOTS="$out" cargo test -p scim-e2e --test e2e console_browser -- --test-threads=1
# A browser that could not start skips the tests: then nothing was taken.
if ! ls "$out"/*.png >/dev/null 2>&1; then
    echo "no screenshots were taken (is chromium installed?)" >&2
    exit 1
fi
# Smaller files (a palette of 64 colours is plenty for these pages) when
# pngquant is installed (apt-get install pngquant).
if command -v pngquant >/dev/null 2>&1; then
    pngquant --force --ext .png --speed 1 64 "$out"/*.png
else
    echo "pngquant is not installed: the screenshots are left uncompressed" >&2
fi
ls -l "$out"
