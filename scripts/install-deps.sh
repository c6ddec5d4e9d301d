#!/usr/bin/env bash
# Installs what Tenantra's tests need on Debian, idempotently: packages already present are
# not touched. No service is started by the package manager (policy-rc.d), and nothing is
# configured to call outside this machine. Go modules come from the module proxy via go.mod.
set -euo pipefail

# Peers of later issues are added here (snmpd, samba, postgresql, chromium, ...).
PACKAGES=(ca-certificates git make
  snmpd snmp snmpsim # network/snmp and network/lab/snmpagent tests (real agents)
  nmap iptables iproute2 # discovery benchmarks side by side with nmap, network namespaces
  # network/ldap tests: a throwaway Samba AD DC (the last two are only recommends of samba)
  samba winbind krb5-user ldb-tools ldap-utils samba-dsdb-modules samba-ad-provision
  poppler-utils # pdftotext reads the compliance PDF back
  chromium # ui e2e tests (Playwright drives Debian's browser; none is downloaded)
  wixl msitools osslsigncode curl adduser procps) # make msi, scripts/ci-packages.sh

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod 755 /usr/sbin/policy-rc.d
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}"
fi

# Go modules the tests build (Pebble, the ACME test server) come through go.mod's tool line.
go mod download
