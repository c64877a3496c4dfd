#!/usr/bin/env bash
# Builds the Debian package from this checkout, with one command:
#   bash packaging/deb.sh            # → target/debian/redoubt_<version>_<arch>.deb
# Needs dpkg-dev, debhelper and a Rust toolchain on PATH (Debian 12's rustc is too old, so
# the build uses whatever cargo is on PATH rather than Build-Depends). Builds in target/deb/
# (again only what changed). Prints the package's path last.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
# A target folder of its own: the package is built with Debian's build flags (dpkg-buildflags:
# hardening for the bundled SQLite's C code), which would otherwise rebuild, and replace, the
# checkout's own target/release. The package lands in target/debian/.
# Run from inside cargo (a test, `cargo run`), the environment carries what cargo sets for a
# crate (CARGO_MANIFEST_DIR, CARGO_PKG_*, ...). Build scripts watch some of them (ring's
# reruns when CARGO_MANIFEST_DIR changes), so the build would start over from ring up.
for v in $(compgen -e); do
  case $v in CARGO | CARGO_MANIFEST_* | CARGO_PKG_* | CARGO_CRATE_NAME | CARGO_BIN_* | CARGO_PRIMARY_PACKAGE | CARGO_TARGET_TMPDIR | CARGO_RUSTC_CURRENT_DIR | OUT_DIR) unset "$v" ;; esac
done
export CARGO_TARGET_DIR=${REDOUBT_DEB_TARGET:-$top/target/deb}
out=$top/target/debian
# The integration tests run in CI and by hand (README.md); the package build runs none unless
# DEB_BUILD_OPTIONS says otherwise.
export DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS:-nocheck}
for tool in dpkg-buildpackage dh cargo; do
  command -v "$tool" >/dev/null || { echo "deb.sh: $tool is needed (apt-get install dpkg-dev debhelper)" >&2; exit 2; }
done
if [ -e debian ] && [ ! -e debian/.from-packaging ]; then
  echo "deb.sh: ./debian exists and is not ours; move it away first" >&2
  exit 2
fi
rm -rf debian
cp -r packaging/debian debian
touch debian/.from-packaging
trap 'rm -rf "$top/debian"' EXIT
mkdir -p "$out"
# -b: binary only; -us -uc: unsigned; the .buildinfo and .changes go beside the .deb, not in
# the checkout's parent folder.
dpkg-buildpackage -b -us -uc --no-pre-clean \
  --buildinfo-file="$out/redoubt.buildinfo" --buildinfo-option="-u$out" \
  --changes-file="$out/redoubt.changes" --changes-option="-u$out" >&2
version=$(dpkg-parsechangelog -l packaging/debian/changelog -S Version)
ls "$out/redoubt_${version}_$(dpkg --print-architecture).deb"
