#!/usr/bin/env bash
# The Debian package end to end (root only: it installs and purges a package; CI is root on a
# throwaway machine):
#   package_test.sh FEDNODE_BINARY
# Builds fednode_<version>_amd64.deb from the binary's build directory (scripts/package.sh, which
# fails on lintian errors), checks the unit with systemd-analyze verify, installs it with dpkg -i,
# runs the unit's own command lines for an instance (its ExecStartPre and ExecStart, %i
# substituted) as the fednode user for a one-node group, asks it for status and a write, stops
# it with SIGTERM, purges the package and checks that only the fednode user is left (Debian
# policy keeps system users). Skips (77) when not root or when fednode is already installed.
set -euo pipefail
bin=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
[[ $(id -u) -eq 0 ]] || { echo "SKIP: the package test installs a package and needs root"; exit 77; }
if dpkg-query -W -f='${Status}' fednode 2>/dev/null | grep -q "ok installed"; then
  echo "SKIP: a fednode package is installed on this machine; the test would replace and purge it"
  exit 77
fi
command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze not installed"; exit 77; }

work=$(mktemp -d)
instance="pkgtest$$"
daemon=""
cleanup() {
  [[ -n "$daemon" ]] && kill -9 "$daemon" 2>/dev/null || true
  rm -f "/etc/fednode/$instance.toml"
  dpkg --purge fednode >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [[ -f $work/daemon.log ]] && tail -5 "$work/daemon.log" >&2; exit 1; }

deb=$(FEDNODE_BUILD_DIR=$(dirname "$bin") "$root/scripts/package.sh" --no-build 2>"$work/package.log" | tail -1) ||
  { cat "$work/package.log" >&2; fail "scripts/package.sh failed"; }
[[ "$deb" =~ /fednode_[0-9.]+_amd64\.deb$ && -f "$deb" ]] || fail "no package built ($deb)"
grep -q '^E: ' "$work/package.log" && fail "lintian errors: $(grep '^E: ' "$work/package.log")"

dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg -i failed"; }
[[ -x /usr/bin/fednode ]] || fail "/usr/bin/fednode not installed"
/usr/bin/fednode --version >/dev/null || fail "the installed binary does not run"
# libtorch is a module the binary loads to train; it must resolve every library it needs.
module=/usr/lib/fednode/libfednode-torch.so
[[ -f $module ]] || fail "$module not installed"
ldd "$module" | grep -q "not found" && fail "$module misses libraries: $(ldd "$module" | grep "not found")"
ldd /usr/bin/fednode | grep -q libtorch && fail "/usr/bin/fednode links libtorch (it should load the module only to train)"
getent passwd fednode >/dev/null || fail "no fednode system user"
[[ "$(stat -c '%U:%G %a' /var/lib/fednode)" == "fednode:fednode 750" ]] || fail "/var/lib/fednode is $(stat -c '%U:%G %a' /var/lib/fednode)"
grep -qx /etc/fednode/node.toml /var/lib/dpkg/info/fednode.conffiles || fail "/etc/fednode/node.toml is not a conffile"
unit=/lib/systemd/system/fednode@.service
systemd-analyze verify "fednode@$instance.service" >"$work/verify.log" 2>&1 || { cat "$work/verify.log" >&2; fail "systemd-analyze verify rejects the unit"; }
grep -q "fednode@" "$work/verify.log" && { cat "$work/verify.log" >&2; fail "systemd-analyze verify warns about the unit"; }

port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -e "s/^self = .*/self = \"127.0.0.1:$port\"/" -e "s/^# data-port = .*/data-port = $((port < 64000 ? port + 1000 : port - 1000))/" \
  /etc/fednode/node.toml >"/etc/fednode/$instance.toml"
# The unit's own command lines, as systemd would run them (User=fednode, %i = the instance).
line() { grep "^$1=" "$unit" | head -1 | cut -d= -f2- | sed "s/%i/$instance/g"; }
pre=$(line ExecStartPre) start=$(line ExecStart)
[[ -n "$pre" && -n "$start" ]] || fail "the unit has no ExecStartPre/ExecStart"
[[ "$(grep '^User=' "$unit")" == "User=fednode" ]] || fail "the unit does not run as fednode"
# shellcheck disable=SC2086 # the unit's command line, split as systemd splits it (no quotes in it)
pubkey=$(setpriv --reuid=fednode --regid=fednode --init-groups -- $pre) || fail "ExecStartPre ($pre) failed as fednode"
# shellcheck disable=SC2086
again=$(setpriv --reuid=fednode --regid=fednode --init-groups -- $pre) || fail "ExecStartPre failed on the second start"
[[ "$again" == "$pubkey" ]] || fail "the second start changed the node key"
[[ "$(stat -c '%U %a' "/var/lib/fednode/$instance/node.key")" == "fednode 600" ]] || fail "node key not owned by fednode with mode 600"
# shellcheck disable=SC2086
setpriv --reuid=fednode --regid=fednode --init-groups -- $start >"$work/daemon.log" 2>&1 &
daemon=$!
ctl() { /usr/bin/fednode ctl "127.0.0.1:$port" --key-file "/var/lib/fednode/$instance/node.key" "$@"; }
for _ in $(seq 100); do ctl status 2>/dev/null | grep -q Leader && break; sleep 0.1; done
ctl status | grep -q "127.0.0.1:$port .*Leader" || fail "the one-node group has no leader: $(ctl status 2>&1)"
[[ "$(ctl set packaged yes)" == ok ]] || fail "a write to the packaged node failed"
owner=$(find "/var/lib/fednode/$instance" ! -user fednode | head -3)
[[ -z "$owner" ]] || fail "files not owned by fednode: $owner"
kill -TERM "$daemon"
for _ in $(seq 100); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.1; done
kill -0 "$daemon" 2>/dev/null && fail "the node did not stop within 10 s of SIGTERM"
wait "$daemon" && rc=0 || rc=$?
daemon=""
[[ $rc -eq 0 ]] || fail "the node exited with $rc after SIGTERM"

rm -f "/etc/fednode/$instance.toml"
dpkg --purge fednode >"$work/purge.log" 2>&1 || { cat "$work/purge.log" >&2; fail "dpkg --purge failed"; }
for gone in /usr/bin/fednode /usr/lib/fednode /etc/fednode /var/lib/fednode "$unit" /usr/share/doc/fednode /usr/share/man/man1/fednode.1.gz; do
  [[ ! -e "$gone" ]] || fail "$gone is left after purge"
done
dpkg-query -W -f='${Status}' fednode 2>/dev/null | grep -q "installed" && fail "dpkg still lists fednode"
left=$(getent passwd fednode >/dev/null && echo "the fednode system user (kept, as Debian policy asks)" || echo "nothing")
echo "ok: $(basename "$deb") lintian-clean, unit verified, installed, instance $instance ran as fednode (key $pubkey), took a write, stopped on SIGTERM; purged: left $left"
