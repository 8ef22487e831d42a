#!/usr/bin/env bash
# Builds the Debian package fednode_<version>_amd64.deb with CPack from build/ (or
# $FEDNODE_BUILD_DIR) into build/package/, then runs lintian on it where lintian is installed
# (errors fail the script; warnings are printed). Prints the package's path last.
#   scripts/package.sh [--no-build]     (--no-build: package what is built, as the test does)
# Install on a machine: sudo apt install ./fednode_<version>_amd64.deb (docs/operations.md).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath -m "${FEDNODE_BUILD_DIR:-$root/build}")
case "${1:-}" in
  "") "$root/scripts/build.sh" ;;
  --no-build) [[ -x "$build/fednode" ]] || { echo "package.sh: --no-build but no $build/fednode" >&2; exit 1; } ;;
  *) echo "package.sh: unknown option '$1' (use --no-build)" >&2; exit 2 ;;
esac
command -v dpkg-shlibdeps >/dev/null || { echo "package.sh: dpkg-shlibdeps is missing (apt-get install dpkg-dev)" >&2; exit 1; }
out="$build/package"
rm -rf "$out"
(cd "$build" && cpack -G DEB -B "$out" >"$build/cpack.log" 2>&1) || { cat "$build/cpack.log" >&2; exit 1; }
deb=$(ls "$out"/fednode_*_amd64.deb)
if command -v lintian >/dev/null; then
  # Root runs lintian only with this set (it warns otherwise); the report goes to stdout.
  report=$(LINTIAN_ROOT_OK=1 lintian --tag-display-limit 0 "$deb" 2>&1 || true)
  [[ -n "$report" ]] && echo "$report" >&2
  if grep -q '^E: ' <<<"$report"; then echo "package.sh: lintian found errors in $deb" >&2; exit 1; fi
else
  echo "package.sh: lintian not installed; the package is not checked (apt-get install lintian)" >&2
fi
echo "$deb"
