#!/usr/bin/env bash
# Smoke test of the frozen one-folder app:  packaging/check-frozen.sh DIST_DIR   (dist/semedit)
#
# Runs DIST_DIR/semedit in a bare environment (env -i: a fresh HOME, PATH=/nonexistent, so no
# Python or virtualenv can help it; QT_QPA_PLATFORM=offscreen) and checks that
#   1. `semedit --version` prints editor.__version__, also through a symlink (as /usr/bin/semedit)
#   2. `semedit upscale IN.png --scale 2 -o OUT.png` writes a 2x larger PNG (the shipped weights)
#   3. a batch upscale of a folder of 3 copies with --jobs 2 ('spawn' worker processes) writes 3
#   4. `semedit faceswap` on a faceless image gets as far as "no face found" (dlib and the
#      face_recognition_models files load)
#   5. the Qt offscreen and xcb platform plugins are in the bundle; the GUI starts offscreen and
#      quits by itself (SEMEDIT_QUIT_AFTER_START=1) with exit 0, and under Xvfb with xcb when
#      xvfb-run is installed
# Exits nonzero at the first failure, saying which.
set -u

dist=${1:?usage: $0 DIST_DIR (the one-folder app, e.g. dist/semedit)}
dist=$(cd "$dist" && pwd)
exe=$dist/semedit
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
image=$repo/resources/icons/hicolor/64x64/apps/io.github.semedit.SemEdit.png  # 64x64 RGBA
version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$repo/editor/__init__.py")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/home"

fail() { echo "check-frozen: FAIL: $*" >&2; exit 1; }
ok() { echo "check-frozen: ok: $*"; }
# The frozen app with nothing from this shell's environment (timeout runs outside env -i);
# leading NAME=VALUE arguments add variables.
frozen() { timeout 300 env -i HOME="$tmp/home" PATH=/nonexistent QT_QPA_PLATFORM=offscreen "$@"; }
# Width and height of a PNG from its IHDR chunk (bytes 16-23, big-endian), no Python needed.
png_size() {
  local b
  read -r -a b < <(od -An -tu1 -j16 -N8 "$1")
  [ ${#b[@]} -eq 8 ] || { echo "?"; return; }
  echo "$(((b[0] << 24) + (b[1] << 16) + (b[2] << 8) + b[3]))x$(((b[4] << 24) + (b[5] << 16) + (b[6] << 8) + b[7]))"
}

[ -x "$exe" ] || fail "$exe is not an executable (run make package)"
[ -f "$image" ] || fail "test image $image is missing"

out=$(frozen "$exe" --version 2>"$tmp/err") || fail "--version exited $?: $(cat "$tmp/err")"
[ "$out" = "semedit $version" ] || fail "--version printed '$out', expected 'semedit $version'"
mkdir -p "$tmp/bin" && ln -s "$exe" "$tmp/bin/semedit"
out=$(frozen "$tmp/bin/semedit" --version 2>"$tmp/err") || fail "--version through a symlink: $(cat "$tmp/err")"
[ "$out" = "semedit $version" ] || fail "--version through a symlink printed '$out'"
ok "--version prints 'semedit $version' (also through a symlink)"

frozen "$exe" upscale "$image" --scale 2 -o "$tmp/up.png" >"$tmp/log" 2>&1 || fail "upscale exited $?: $(cat "$tmp/log")"
size=$(png_size "$tmp/up.png")
[ "$size" = "128x128" ] || fail "upscale wrote a $size image, expected 128x128"
ok "upscale --scale 2: 64x64 -> $size ($(tail -n1 "$tmp/log"))"

mkdir -p "$tmp/batch"
for n in 1 2 3; do cp "$image" "$tmp/batch/icon$n.png"; done
frozen "$exe" upscale "$tmp/batch" --scale 2 -o "$tmp/batch-out" --jobs 2 >"$tmp/log" 2>&1 \
  || fail "batch upscale --jobs 2 exited $?: $(cat "$tmp/log")"
for n in 1 2 3; do
  size=$(png_size "$tmp/batch-out/icon$n.png" 2>/dev/null)
  [ "$size" = "128x128" ] || fail "batch --jobs 2: icon$n.png is '$size', expected 128x128: $(cat "$tmp/log")"
done
ok "batch upscale of 3 files with --jobs 2 (worker processes): 3 outputs at 128x128"

frozen "$exe" faceswap "$image" --face "$image" --quick -o "$tmp/face.png" >"$tmp/log" 2>&1
status=$?
[ $status -eq 1 ] && grep -q "no face found" "$tmp/log" \
  || fail "faceswap on a faceless image: exit $status, expected 'no face found': $(cat "$tmp/log")"
ok "faceswap loads dlib and its models (a faceless image: 'no face found')"

plugins=$dist/_internal/PySide6/Qt/plugins/platforms
for plugin in libqoffscreen.so libqxcb.so; do
  [ -f "$plugins/$plugin" ] || fail "Qt platform plugin $plugins/$plugin is missing"
done
frozen SEMEDIT_QUIT_AFTER_START=1 "$exe" >"$tmp/log" 2>&1 || fail "GUI (offscreen) exited $?: $(cat "$tmp/log")"
ok "GUI starts offscreen and quits with exit 0"
if command -v xvfb-run >/dev/null 2>&1; then
  timeout 300 xvfb-run -a sh -c 'exec env -i HOME="$1" PATH=/nonexistent DISPLAY="$DISPLAY" \
    XAUTHORITY="${XAUTHORITY:-}" QT_QPA_PLATFORM=xcb SEMEDIT_QUIT_AFTER_START=1 "$2"' \
    sh "$tmp/home" "$exe" >"$tmp/log" 2>&1 || fail "GUI under Xvfb (xcb) exited $?: $(cat "$tmp/log")"
  ok "GUI starts in an X11 window (Xvfb, xcb plugin) and quits with exit 0"
else
  echo "check-frozen: skipped: the xcb run (xvfb-run is not installed)"
fi
echo "check-frozen: all checks passed for $exe"
