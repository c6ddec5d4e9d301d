#!/usr/bin/env bash
# Turns the build's version (git describe, or VERSION) into what a package format accepts.
#   packaging/version.sh deb RAW   Debian upstream version: v1.2.3-4-gabc1234-dirty becomes
#                                  1.2.3+4.gabc1234.dirty, v1.2.3-rc.1 becomes 1.2.3~rc.1 (sorts
#                                  before 1.2.3); without a tag 0.0.0+git<commits>.g<hash>.
#   packaging/version.sh msi RAW   Windows Installer ProductVersion, numbers only: 1.2.3; without
#                                  a tag 0.0.<commits>, so that each build upgrades the last.
# The .deb and MSI file names carry the deb form.
set -euo pipefail

kind=${1:?usage: version.sh deb|msi RAW}
raw=${2:-dev}
raw=${raw#v}
commits=$(git rev-list --count HEAD 2>/dev/null || echo 0)

dirty=""
if [[ $raw == *-dirty ]]; then
  dirty=dirty
  raw=${raw%-dirty}
fi
base="" pre="" ahead="" hash=""
if [[ $raw =~ ^([0-9]+(\.[0-9]+)*)(-([0-9A-Za-z.]+))?(-([0-9]+)-g([0-9a-f]+))?$ ]]; then
  base=${BASH_REMATCH[1]} pre=${BASH_REMATCH[4]}
  ahead=${BASH_REMATCH[6]} hash=${BASH_REMATCH[7]}
elif [[ $raw =~ ^[0-9a-f]{7,40}$ ]]; then
  hash=$raw # git describe --always without a tag
fi

case $kind in
deb)
  if [ -z "$base" ]; then
    v="0.0.0+git$commits"
    [ -n "$hash" ] && v+=".g$hash"
    [ -z "$hash" ] && [ "$raw" != "" ] && v+=".$raw"
  else
    v=$base
    [ -n "$pre" ] && v+="~$pre"
    [ -n "$ahead" ] && v+="+$ahead.g$hash"
  fi
  if [ -n "$dirty" ]; then
    [[ $v == *+* ]] && v+=".dirty" || v+="+dirty"
  fi
  # Only [A-Za-z0-9.+~] may remain; anything else (from a hand-set VERSION) becomes a dot.
  printf '%s\n' "$v" | sed 's/[^A-Za-z0-9.+~]/./g'
  ;;
msi)
  if [ -z "$base" ]; then
    echo "0.0.$(( commits > 65535 ? 65535 : commits ))"
  else
    IFS=. read -r major minor build _ <<<"$base.0.0"
    printf '%d.%d.%d\n' $(( major > 255 ? 255 : major )) $(( minor > 255 ? 255 : minor )) \
      $(( build > 65535 ? 65535 : build ))
  fi
  ;;
*)
  echo "version.sh: unknown kind $kind (want deb or msi)" >&2
  exit 2
  ;;
esac
