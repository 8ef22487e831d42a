#!/usr/bin/env bash
# docs/options.md is what scripts/options-doc.sh makes from this binary's help.
#   options_doc_test.sh FEDNODE REPO_ROOT
set -euo pipefail
bin=$1 root=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$root/scripts/options-doc.sh" "$bin" "$tmp/options.md"
if ! diff -u "$root/docs/options.md" "$tmp/options.md" > "$tmp/diff"; then
  head -40 "$tmp/diff"
  echo "docs/options.md is stale: run scripts/options-doc.sh and commit the page" >&2
  exit 1
fi
grep -q -- '--data-dir' "$root/docs/options.md" || { echo "docs/options.md lacks --data-dir: the generator lost the help" >&2; exit 1; }
echo "ok: docs/options.md matches fednode --help"
