#!/usr/bin/env bash
# Build the Debian package of the one-folder app:  packaging/build-deb.sh DIST_DIR OUT_DIR
#
# DIST_DIR is PyInstaller's one-folder output (dist/semedit, with the executable `semedit`);
# writes OUT_DIR/semedit_<version>_<arch>.deb laid out as
#   /opt/semedit/…                       the one-folder app
#   /usr/bin/semedit -> /opt/semedit/semedit
#   /usr/share/applications/io.github.semedit.SemEdit.desktop
#   /usr/share/icons/hicolor/{16x16…512x512,scalable}/apps/io.github.semedit.SemEdit.{png,svg}
#   /usr/share/metainfo/io.github.semedit.SemEdit.metainfo.xml
# The version is editor.__version__, the architecture dpkg's. DEB_COMPRESSION (default xz) is
# passed to dpkg-deb -Z (gzip or none build faster).
set -euo pipefail

usage() { echo "usage: $0 DIST_DIR OUT_DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
dist=$1
out=$2
app_id=io.github.semedit.SemEdit
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
resources=$repo/resources

[ -x "$dist/semedit" ] || { echo "build-deb: $dist/semedit is not an executable (run PyInstaller first)" >&2; exit 1; }
command -v dpkg-deb >/dev/null || { echo "build-deb: dpkg-deb not found (Debian/Ubuntu only)" >&2; exit 1; }

version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$repo/editor/__init__.py")
[ -n "$version" ] || { echo "build-deb: no __version__ in editor/__init__.py" >&2; exit 1; }
arch=$(dpkg --print-architecture)

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/root
install -d -m 755 "$root/DEBIAN" "$root/opt" "$root/usr/bin" "$root/usr/share/applications" \
  "$root/usr/share/icons" "$root/usr/share/metainfo"
cp -a "$dist" "$root/opt/semedit"
chmod -R u+rwX,go+rX,go-w "$root/opt/semedit"
ln -s /opt/semedit/semedit "$root/usr/bin/semedit"
install -m 644 "$resources/$app_id.desktop" "$root/usr/share/applications/"
install -m 644 "$resources/$app_id.metainfo.xml" "$root/usr/share/metainfo/"
cp -r "$resources/icons/hicolor" "$root/usr/share/icons/"
find "$root/usr/share/icons" -type d -exec chmod 755 {} + -o -type f -exec chmod 644 {} +

installed_kb=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<CONTROL
Package: semedit
Version: $version
Architecture: $arch
Maintainer: SemEdit developers <semedit@users.noreply.github.com>
Installed-Size: $installed_kb
Depends: libxcb-cursor0, libxkbcommon-x11-0, libxcb-icccm4, libxcb-keysyms1, libxcb-image0, libxcb-randr0, libxcb-render-util0, libxcb-shape0, libgl1, libegl1, libfontconfig1
Section: graphics
Priority: optional
Homepage: https://github.com/semedit/semedit
Description: image editor whose tools are deep-learning semantic edits
 Paint a mask over part of a photo and remove the object, paint a style onto
 it, swap a face or upscale the image; watch the result build up, then apply
 or discard it. Runs on the CPU (PyTorch, Qt), bundled in /opt/semedit; the
 same edits work headless from the command line (semedit upscale ...).
CONTROL
chmod 644 "$root/DEBIAN/control"

mkdir -p "$out"
deb=$out/semedit_${version}_${arch}.deb
dpkg-deb --build --root-owner-group -Z"${DEB_COMPRESSION:-xz}" "$root" "$deb" >/dev/null
echo "$deb"
