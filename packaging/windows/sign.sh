#!/usr/bin/env bash
# Authenticode-signs each FILE in place with osslsigncode when TENA_SIGN_CERT (a PEM or DER
# certificate chain, or a PKCS#12 file) and TENA_SIGN_KEY (its private key) are set; does
# nothing otherwise. Optional: TENA_SIGN_PASS_FILE (the key's passphrase, read from a file)
# and TENA_SIGN_TIMESTAMP (an RFC 3161 timestamp server URL; without one the signature is
# valid only as long as the certificate).
set -euo pipefail

if [ -z "${TENA_SIGN_CERT:-}" ] || [ -z "${TENA_SIGN_KEY:-}" ]; then
  exit 0
fi
command -v osslsigncode >/dev/null || {
  echo "sign.sh: TENA_SIGN_CERT is set but osslsigncode is missing (scripts/install-deps.sh)" >&2
  exit 1
}
args=(-certs "$TENA_SIGN_CERT" -key "$TENA_SIGN_KEY" -h sha256 -n Tenantra)
[ -n "${TENA_SIGN_PASS_FILE:-}" ] && args+=(-readpass "$TENA_SIGN_PASS_FILE")
[ -n "${TENA_SIGN_TIMESTAMP:-}" ] && args+=(-ts "$TENA_SIGN_TIMESTAMP")
for f in "$@"; do
  osslsigncode sign "${args[@]}" -in "$f" -out "$f.signed"
  mv -f "$f.signed" "$f"
  echo "signed $f"
done
