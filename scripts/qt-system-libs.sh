#!/usr/bin/env bash
# Qt's xcb platform plugin (a real window on X11) needs a few system libraries that PySide6's
# wheels do not bundle. Install them on Debian/Ubuntu when they are missing; elsewhere just say so.
# --with-xvfb (make test): also Xvfb, so the shortcut tests run once in a real X11 window, and the
# validators tests/test_desktop_files.py runs on resources/ (desktop-file-utils, appstream).
set -u
missing=()
for lib in libxcb-cursor.so.0 libxcb-icccm.so.4 libxcb-keysyms.so.1 libxkbcommon-x11.so.0; do
  ldconfig -p 2>/dev/null | grep -q "$lib" || missing+=("$lib")
done
pkgs="libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0 libxcb-xinerama0 libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-image0"
if [ "${1:-}" = "--with-xvfb" ] && ! command -v xvfb-run >/dev/null 2>&1; then
  missing+=("xvfb-run")
  pkgs="$pkgs xvfb xauth"
fi
if [ "${1:-}" = "--with-xvfb" ]; then
  command -v desktop-file-validate >/dev/null 2>&1 || { missing+=("desktop-file-validate"); pkgs="$pkgs desktop-file-utils"; }
  command -v appstreamcli >/dev/null 2>&1 || { missing+=("appstreamcli"); pkgs="$pkgs appstream"; }
fi
[ ${#missing[@]} -eq 0 ] && exit 0
if command -v apt-get >/dev/null 2>&1; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  echo "Installing Qt's X11 libraries: $pkgs"
  $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq $pkgs || {
    echo "warning: could not install $pkgs; the window may not open (missing: ${missing[*]})" >&2
  }
else
  echo "warning: Qt's xcb plugin needs: ${missing[*]} (install them with your package manager)" >&2
fi
exit 0
