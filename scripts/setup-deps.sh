#!/usr/bin/env bash
# Installs the Debian packages fednode needs, and nothing when all are present.
#   scripts/setup-deps.sh           build + test dependencies
#   scripts/setup-deps.sh --bench   also PyTorch-Python, PySyncObj, etcd and Go with etcd's clientv3 (the
#                                   gRPC driver bench/etcd-grpc-writer) for the side-by-side benchmarks
#   scripts/setup-deps.sh --tools   also gnuplot (plots), tshark and iftop (traffic capture)
set -euo pipefail

packages=(cmake g++ make pkg-config
  libtorch-dev libasio-dev libmsgpack-cxx-dev libspdlog-dev libcli11-dev libgtest-dev
  libsodium-dev libssl-dev zlib1g-dev libzip-dev libstb-dev libpng-dev libturbojpeg0-dev dataset-fashion-mnist curl python3
  python3-torch python3-numpy python3-sklearn python3-pil  # tests run their Python side: TorchScript models, .npz files, exports
  iproute2 iptables faketime  # the namespace testbed's tests: hosts, partitions, clock skew
  libnetfilter-queue-dev iputils-ping  # its delays (NFQUEUE), measured with ping
  fiu-utils                    # disk faults: libfiu's POSIX preload fails fdatasync with EIO
  dpkg-dev lintian adduser     # scripts/package.sh and the package test
  prometheus tmux              # the Prometheus scrape test and rule tests, the live view under tmux
  chromium python3-websocket)  # the live page's browser test (headless, over the DevTools protocol)
for arg in "$@"; do
  case "$arg" in
    --bench) packages+=(python3-pysyncobj etcd-server etcd-client golang-go golang-etcd-server-dev) ;;
    --tools) packages+=(gnuplot-nox tshark iftop) ;;
    *) echo "setup-deps.sh: unknown option '$arg' (use --bench or --tools)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "setup-deps.sh: installing ${missing[*]}" >&2
if [[ $(id -u) -eq 0 ]]; then
  sudo=()
elif command -v sudo >/dev/null; then
  sudo=(sudo)
else
  echo "setup-deps.sh: missing packages (${missing[*]}) and neither root nor sudo to install them" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | "${sudo[@]}" debconf-set-selections 2>/dev/null || true
if ! "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"; then
  "${sudo[@]}" apt-get update -q
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
