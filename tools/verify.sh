#!/usr/bin/env bash
# verify.sh — checks one callseal recording with standard tools only (Linux and macOS).
#
#   verify.sh [--fingerprint SHA256] [--cert FILE] <base>
#
# <base> is the recording's path without suffix, e.g. 2026/11/23/20261123-184637-123_+4930_+4989_ab12cd.
# Checks: every file listed in <base>_hash.txt has its SHA-256 (sha256sum, or shasum -a 256), and
# <base>_hash.SHA256withRSA.sig is a valid RSA SHA-256 signature of <base>_hash.txt made with the key
# of the certificate (openssl). The certificate is taken from --cert, else callseal-cert-epoch<N>.pem
# (N = the recording's chain epoch) or callseal-cert.pem beside the recording, in a parent folder, or
# beside this script. A certificate found beside the recordings proves nothing by itself: pin it with
# --fingerprint (the SHA-256 fingerprint on the printed certificate, or from `callseal keys show`),
# which must match the certificate used. It always prints the fingerprint it used and whether it was
# pinned. Exit 0 only if all of it holds.
# A recording deleted by retention is gone; its signed deletion record (chain/deletions/<year>/<name>.txt
# in a folder above it) is checked instead: exit 3 with "DELETED: ..." when its signature holds, 1 when
# it does not or when the recording is missing without a record.
set -u

cert=""
fingerprint=""
base=""
usage() { echo "usage: verify.sh [--fingerprint SHA256] [--cert FILE] <base>" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --cert) [ $# -ge 2 ] || usage; cert="$2"; shift 2 ;;
    --cert=*) cert="${1#--cert=}"; shift ;;
    --fingerprint) [ $# -ge 2 ] || usage; fingerprint="$2"; shift 2 ;;
    --fingerprint=*) fingerprint="${1#--fingerprint=}"; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    --) shift; [ $# -gt 0 ] && { base="$1"; shift; } ;;
    *) base="$1"; shift ;;
  esac
done
[ -n "$base" ] || usage
# Fingerprints compare as hex without colons, in lower case.
want=$(printf '%s' "$fingerprint" | tr -d ':[:space:]' | tr 'A-F' 'a-f')
if [ -n "$fingerprint" ] && ! printf '%s' "$want" | grep -Eq '^[0-9a-f]{64}$'; then
  echo "FAIL: --fingerprint takes a SHA-256 fingerprint (64 hex digits, colons allowed)" >&2; exit 2
fi
base="${base%_hash.txt}"
base="${base%_info.txt}"
# A relative path starting with "-" (a folder named "-x") is read as a path, never as an option.
case "$base" in -*) base="./$base" ;; esac
name=$(basename -- "$base")
hashfile="$name"_hash.txt
sigfile="$name"_hash.SHA256withRSA.sig
script_dir=$(cd "$(dirname "$0")" && pwd)

# The signature check shared by recordings and deletion records: $1 file, $2 base64 signature file,
# $3 certificate. Prints the certificate and whether it was pinned; returns 0 only if it verifies.
check_sig() {
  command -v openssl >/dev/null 2>&1 || { echo "FAIL: openssl not found" >&2; exit 1; }
  sigtmp=$(mktemp -d "${TMPDIR:-/tmp}/callseal-verify.XXXXXX") || exit 1
  if ! openssl base64 -d -A -in "$2" -out "$sigtmp/sig.bin" 2>/dev/null || [ ! -s "$sigtmp/sig.bin" ]; then
    echo "FAIL: $2 is not base64" >&2; rm -rf "$sigtmp"; exit 1
  fi
  if ! openssl x509 -in "$3" -noout -pubkey > "$sigtmp/pub.pem" 2>/dev/null; then
    echo "FAIL: $3 is not a certificate" >&2; rm -rf "$sigtmp"; exit 1
  fi
  fp=$(openssl x509 -in "$3" -noout -fingerprint -sha256 2>/dev/null | sed 's/.*=//')
  have=$(printf '%s' "$fp" | tr -d ':' | tr 'A-F' 'a-f')
  echo "Certificate: $(openssl x509 -in "$3" -noout -subject 2>/dev/null) ($3)"
  echo "             SHA-256 fingerprint $fp"
  if [ -n "$want" ]; then
    if [ "$have" != "$want" ]; then
      echo "FAIL: the certificate's fingerprint $fp does not match the pinned fingerprint $fingerprint" >&2; rm -rf "$sigtmp"; exit 1
    fi
    echo "             pinned (--fingerprint): matches"
  else
    echo "             NOT PINNED: compare this fingerprint with the one on the printed certificate, or give --fingerprint"
  fi
  echo "Checking signature (openssl dgst -sha256 -verify):"
  openssl dgst -sha256 -verify "$sigtmp/pub.pem" -signature "$sigtmp/sig.bin" "$1"
  sig_ok=$?
  rm -rf "$sigtmp"
  return "$sig_ok"
}

# The nearest existing folder of the recording's path (its own folder may be gone with it).
d=$(dirname -- "$base")
while [ ! -d "$d" ] && [ "$d" != "." ] && [ "$d" != "/" ]; do d=$(dirname -- "$d"); done
search=$(cd -- "$d" 2>/dev/null && pwd) || { echo "FAIL: folder of $base not found" >&2; exit 1; }
if [ ! -f "$search/$hashfile" ] || [ "$search" != "$(cd -- "$(dirname -- "$base")" 2>/dev/null && pwd)" ]; then
  # F6: gone; a deletion record in chain/deletions/ of a folder above tells whether retention deleted it.
  s="$search"
  while [ -n "$s" ]; do
    for rec in "$s"/chain/deletions/*/"$name".txt; do
      [ -f "$rec" ] || continue
      grep -qx "recording: $name" "$rec" || continue
      signer=$(sed -n 's/^signer-epoch: \([0-9][0-9]*\)$/\1/p' "$rec" | head -n 1)
      rcert="$cert"
      if [ -z "$rcert" ]; then
        for c in "$s/callseal-cert-epoch$signer.pem" "$s/callseal-cert.pem" "$script_dir/callseal-cert.pem"; do
          [ -f "$c" ] && { rcert="$c"; break; }
        done
      fi
      [ -n "$rcert" ] && [ -f "$rcert" ] || { echo "FAIL: $name is gone; its deletion record $rec has no certificate to check it (give --cert FILE)" >&2; exit 1; }
      echo "$name is not here; deletion record $rec"
      if check_sig "$rec" "$rec.sig" "$rcert"; then
        when=$(sed -n 's/^deleted-at: //p' "$rec" | head -n 1)
        why=$(sed -n 's/^reason: //p' "$rec" | head -n 1)
        period=$(sed -n 's/^retention: //p' "$rec" | head -n 1)
        if [ "$why" = "retention-expired" ]; then
          echo "DELETED: $name was deleted by retention on ${when%%T*} ($period); the deletion record's signature holds"
        else
          echo "DELETED: $name was deleted on ${when%%T*} ($why); the deletion record's signature holds"
        fi
        exit 3
      fi
      echo "FAIL: $name is missing, and its deletion record $rec does not verify with $rcert" >&2
      exit 1
    done
    [ "$s" = "/" ] && break
    s=$(dirname "$s")
  done
  echo "FAIL: $name is missing: no $hashfile and no deletion record" >&2
  exit 1
fi
dir="$search"

epoch=$(sed -n 's/^chain-epoch: \([0-9][0-9]*\)$/\1/p' "$dir/${name}_info.txt" 2>/dev/null | head -n 1)
if [ -z "$cert" ]; then
  d="$dir"
  while [ -n "$d" ]; do
    if [ -n "$epoch" ] && [ -f "$d/callseal-cert-epoch$epoch.pem" ]; then cert="$d/callseal-cert-epoch$epoch.pem"; break; fi
    if [ -f "$d/callseal-cert.pem" ]; then cert="$d/callseal-cert.pem"; break; fi
    [ "$d" = "/" ] && break
    d=$(dirname "$d")
  done
  [ -z "$cert" ] && [ -f "$script_dir/callseal-cert.pem" ] && cert="$script_dir/callseal-cert.pem"
fi
[ -n "$cert" ] && [ -f "$cert" ] || { echo "FAIL: no certificate (give --cert FILE or put callseal-cert.pem beside the recording)" >&2; exit 1; }
case "$cert" in /*) ;; *) cert="$(pwd)/$cert" ;; esac

if command -v sha256sum >/dev/null 2>&1; then shacheck="sha256sum -c"
elif command -v shasum >/dev/null 2>&1; then shacheck="shasum -a 256 -c"
else echo "FAIL: neither sha256sum nor shasum found" >&2; exit 1; fi

cd "$dir" || exit 1
[ -f "$hashfile" ] || { echo "FAIL: $hashfile missing" >&2; exit 1; }
[ -f "$sigfile" ] || { echo "FAIL: $sigfile missing" >&2; exit 1; }
grep -q "  ${name}_info.txt\$" "$hashfile" || { echo "FAIL: ${name}_info.txt is not listed in $hashfile" >&2; exit 1; }

status=0
echo "Checking file hashes ($shacheck):"
if ! $shacheck "$hashfile"; then
  echo "FAIL: at least one file differs from its SHA-256 in $hashfile" >&2
  status=1
fi

if ! check_sig "$hashfile" "$sigfile" "$cert"; then
  echo "FAIL: the signature of $hashfile does not verify with $cert" >&2
  status=1
fi

if [ "$status" -eq 0 ]; then
  echo "OK: $name is complete and unaltered"
fi
exit "$status"
