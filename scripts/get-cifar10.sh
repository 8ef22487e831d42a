#!/usr/bin/env bash
# Downloads the official CIFAR-10 binary tarball into data/ (or --dest DIR), checks its
# published MD5 and unpacks it to DIR/cifar-10-batches-bin. This is the only script that
# downloads anything. CIFAR10_URL and CIFAR10_MD5 override the source (tests use a local copy).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/data"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dest) dest=$2; shift 2 ;;
    *) echo "get-cifar10.sh: unknown option '$1' (use --dest DIR)" >&2; exit 2 ;;
  esac
done
url=${CIFAR10_URL:-https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz}
md5=${CIFAR10_MD5:-c32a1d4ab5d03f1284b67883e8d87530}
files=(data_batch_1.bin data_batch_2.bin data_batch_3.bin data_batch_4.bin data_batch_5.bin test_batch.bin)

have_all() {
  for f in "${files[@]}"; do [[ -s "$dest/cifar-10-batches-bin/$f" ]] || return 1; done
}
if have_all; then
  echo "get-cifar10.sh: $dest/cifar-10-batches-bin is already complete"
  exit 0
fi

mkdir -p "$dest"
tmp=$(mktemp "$dest/.cifar-10-binary.XXXXXX.tar.gz")
trap 'rm -f "$tmp"' EXIT
echo "get-cifar10.sh: downloading $url"
if ! curl --fail --silent --show-error --location --connect-timeout 15 --retry 2 -o "$tmp" "$url" 2>"$tmp.err"; then
  echo "get-cifar10.sh: cannot download $url ($(head -c 200 "$tmp.err" | tr '\n' ' ')); the network looks unreachable. Alternatives: train on Debian's Fashion-MNIST (apt-get install dataset-fashion-mnist, then --dataset fashion-mnist), or pass the path of an existing cifar-10-batches-bin copy with --dataset-dir." >&2
  rm -f "$tmp.err"
  exit 1
fi
rm -f "$tmp.err"
got=$(md5sum "$tmp" | cut -d' ' -f1)
if [[ "$got" != "$md5" ]]; then
  echo "get-cifar10.sh: MD5 of the download is $got, expected $md5: refusing a corrupt or different file" >&2
  exit 1
fi
tar -xzf "$tmp" -C "$dest"
if ! have_all; then
  echo "get-cifar10.sh: the tarball did not contain cifar-10-batches-bin/{${files[*]}}" >&2
  exit 1
fi
echo "get-cifar10.sh: CIFAR-10 ready in $dest/cifar-10-batches-bin"
