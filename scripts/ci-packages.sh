#!/usr/bin/env bash
# Checks the built packages the way an operator meets them; CI runs it as root after
# `make deb msi`. On this machine's architecture's .deb: dpkg -i, `tenantra version`, the
# packaged binary started as the tenantra user with the packaged config on a spare loopback
# port until /health answers 200 over TLS, a graceful stop (SIGTERM), then dpkg -r (data and
# user kept) and dpkg -P (data, config and user gone). On the MSI: msiinfo finds the File,
# Component and ServiceInstall tables and the Tenantra service in the last.
#
# No service is started by the package: /usr/sbin/policy-rc.d must refuse (exit 101), and
# is put in place for the run when missing. Safe to run again: a tenantra package left
# installed is purged first, and everything the run starts or installs is undone on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

POLICY=/usr/sbin/policy-rc.d
DATA=/var/lib/tenantra
CONF=/etc/tenantra/tenantra.yaml
WAIT=30 # seconds for the server to answer, and again for it to stop
NEIGH=/proc/sys/net/ipv4/neigh/default/gc_thresh3
neigh_before=""  # gc_thresh3 and 2 before the install, which postinst may raise; restored
neigh_before2="" # on exit

log=""
server=""        # pid of runuser, the server's parent
made_policy=no
ok=no

say() { echo "ci-packages: $*"; }
fail() {
  echo "ci-packages: FAIL: $*" >&2
  exit 1
}

pkg_status() { dpkg-query -W -f='${db:Status-Abbrev}' tenantra 2>/dev/null || true; }

cleanup() {
  local rc=$?
  set +e
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    pkill -TERM -P "$server"
    sleep 2
    pkill -KILL -P "$server"
    kill -KILL "$server" 2>/dev/null
    wait "$server" 2>/dev/null
  fi
  if [ "$ok" != yes ] && [ -n "$log" ] && [ -s "$log" ]; then
    echo "ci-packages: server output (last 40 lines):" >&2
    tail -n 40 "$log" >&2
  fi
  [ -n "$log" ] && rm -f "$log"
  if [ -n "$(pkg_status)" ]; then
    dpkg -P tenantra >/dev/null 2>&1 || echo "ci-packages: could not purge tenantra" >&2
  fi
  [ "$made_policy" = yes ] && rm -f "$POLICY"
  if [ -n "$neigh_before" ]; then
    echo "$neigh_before" >"$NEIGH" 2>/dev/null || true
    echo "$neigh_before2" >"${NEIGH%3}2" 2>/dev/null || true
  fi
  if [ "$rc" -eq 0 ] && [ "$ok" = yes ]; then
    say "ok"
  elif [ "$rc" -eq 0 ]; then
    rc=1
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" -eq 0 ] || fail "run as root: it installs and removes the .deb"
for tool in dpkg curl runuser pkill msiinfo; do
  command -v "$tool" >/dev/null || fail "$tool is missing; run scripts/install-deps.sh"
done

arch=$(dpkg --print-architecture)
# The newest of each, should earlier builds be lying beside it (make names them, no spaces).
# shellcheck disable=SC2012
deb=$(ls -t dist/tenantra_*_"$arch".deb 2>/dev/null | head -n 1 || true)
# shellcheck disable=SC2012
msi=$(ls -t dist/tenantra-*-x64.msi 2>/dev/null | head -n 1 || true)
[ -n "$deb" ] || fail "no dist/tenantra_*_$arch.deb; run make deb first"
[ -n "$msi" ] || fail "no dist/tenantra-*-x64.msi; run make msi first"

# Services must not start on this machine: policy-rc.d answers 101 (action forbidden).
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$POLICY"
  chmod 755 "$POLICY"
  made_policy=yes
fi
rc=0
"$POLICY" tenantra.service start >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 101 ] || fail "$POLICY exits $rc, not 101: installing would start services"

if [ -n "$(pkg_status)" ]; then
  say "purging the tenantra package a previous run left ($(pkg_status))"
  dpkg -P tenantra >/dev/null
fi

# --- install ---
if [ -w "$NEIGH" ]; then
  neigh_before=$(cat "$NEIGH")
  neigh_before2=$(cat "${NEIGH%3}2")
fi
say "dpkg -i $deb"
dpkg -i "$deb" >/dev/null
[ "$(pkg_status)" = "ii " ] || fail "tenantra is not installed after dpkg -i ($(pkg_status))"
ver=$(/usr/bin/tenantra version) || fail "tenantra version failed"
say "$ver"
[[ $ver == "tenantra "* ]] || fail "unexpected tenantra version output: $ver"
getent passwd tenantra >/dev/null || fail "postinst did not create the tenantra user"
[ "$(stat -c '%U:%G %a' "$DATA")" = "tenantra:tenantra 700" ] \
  || fail "$DATA is $(stat -c '%U:%G %a' "$DATA"), want tenantra:tenantra 700"
[ -f /lib/systemd/system/tenantra.service ] || fail "the systemd unit is missing"
[ "$(stat -c '%U:%G %a' "$CONF")" = "root:tenantra 640" ] \
  || fail "$CONF is $(stat -c '%U:%G %a' "$CONF"), want root:tenantra 640"
grep -qx /etc/tenantra/tenantra.yaml /var/lib/dpkg/info/tenantra.conffiles \
  || fail "$CONF is not a conffile"
# The neighbour table limits (ADR 0011): shipped for boot, applied by postinst, never lowered.
sysctl_conf=/usr/lib/sysctl.d/60-tenantra.conf
want=$(sed -n 's/^net\.ipv4\.neigh\.default\.gc_thresh3 *= *//p' "$sysctl_conf" 2>/dev/null || true)
[ -n "$want" ] || fail "$sysctl_conf is missing or sets no gc_thresh3"
if [ -n "$neigh_before" ]; then
  have=$(cat "$NEIGH")
  if [ "$have" -lt "$want" ] || [ "$have" -lt "$neigh_before" ]; then
    fail "gc_thresh3 is $have after postinst (was $neigh_before, package sets $want)"
  fi
  say "gc_thresh3 $neigh_before -> $have"
fi

# --- run the packaged binary with the packaged config, as the service would ---
# Port 0: the kernel picks a free port, which serve prints in its banner.
log=$(mktemp)
TENA_ADMIN_PASSWORD="ci-$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
export TENA_ADMIN_PASSWORD
(cd / && exec runuser -u tenantra -- /usr/bin/tenantra serve --config "$CONF" \
  --listen 127.0.0.1:0) >"$log" 2>&1 &
server=$!
url=""
for ((i = 0; i < WAIT * 2; i++)); do
  kill -0 "$server" 2>/dev/null || fail "tenantra serve exited before answering"
  if [ -z "$url" ]; then
    url=$(grep -o 'serving https://127\.0\.0\.1:[0-9]*' "$log" | head -n 1 | cut -d' ' -f2 || true)
  fi
  if [ -n "$url" ] && [ -f "$DATA/certs/ca.pem" ]; then
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
      --cacert "$DATA/certs/ca.pem" "$url/health" || true)
    [ "$code" = 200 ] && break
  fi
  sleep 0.5
done
[ "${code:-}" = 200 ] || fail "no 200 from ${url:-the server}/health within ${WAIT}s"
say "GET $url/health: 200 (TLS verified against $DATA/certs/ca.pem)"
owner=$(stat -c '%U %a' "$DATA/master.key")
[ "$owner" = "tenantra 600" ] || fail "master.key is $owner, want tenantra 600"

# SIGTERM to serve itself (runuser is its parent), then a bounded wait for a clean exit.
pid=$(pgrep -P "$server" -x tenantra) || fail "cannot find the tenantra process"
kill -TERM "$pid"
for ((i = 0; i < WAIT * 2; i++)); do
  kill -0 "$server" 2>/dev/null || break
  sleep 0.5
done
kill -0 "$server" 2>/dev/null && fail "tenantra serve did not stop within ${WAIT}s of SIGTERM"
rc=0
wait "$server" || rc=$?
server=""
[ "$rc" -eq 0 ] || fail "tenantra serve exited $rc after SIGTERM, want 0"
say "stopped gracefully on SIGTERM"

# --- remove keeps the data and the user; purge deletes them ---
dpkg -r tenantra >/dev/null
[ ! -e /usr/bin/tenantra ] || fail "dpkg -r left /usr/bin/tenantra"
[ -f "$DATA/master.key" ] || fail "dpkg -r deleted $DATA"
getent passwd tenantra >/dev/null || fail "dpkg -r deleted the tenantra user"
[ -f "$CONF" ] || fail "dpkg -r deleted the conffile $CONF"
say "dpkg -r: binary gone, $DATA, $CONF and the tenantra user kept"
dpkg -P tenantra >/dev/null
[ -z "$(pkg_status)" ] || fail "tenantra still known to dpkg after purge ($(pkg_status))"
[ ! -e "$DATA" ] || fail "dpkg -P left $DATA"
[ ! -e /etc/tenantra ] || fail "dpkg -P left /etc/tenantra"
! getent passwd tenantra >/dev/null || fail "dpkg -P left the tenantra user"
! getent group tenantra >/dev/null || fail "dpkg -P left the tenantra group"
say "dpkg -P: $DATA, /etc/tenantra and the tenantra user gone"

# --- the MSI ---
tables=$(msiinfo tables "$msi") || fail "msiinfo cannot read $msi"
for t in File Component ServiceInstall ServiceControl; do
  grep -qx "$t" <<<"$tables" || fail "$msi has no $t table"
done
svc=$(msiinfo export "$msi" ServiceInstall)
awk -F'\t' 'NR > 3 && $2 == "Tenantra" && $11 ~ /^service run / { found = 1 }
  END { exit !found }' <<<"$svc" \
  || fail "$msi installs no Tenantra service running 'service run': $svc"
msiinfo export "$msi" File | awk -F'\t' 'NR > 3 && $3 == "tenantra.exe" { found = 1 }
  END { exit !found }' || fail "$msi does not install tenantra.exe"
say "$msi: File, Component, ServiceInstall and ServiceControl present; service Tenantra"
ok=yes
