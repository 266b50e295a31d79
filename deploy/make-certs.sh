#!/usr/bin/env bash
# Makes a tenks CA and mTLS certificates with openssl.
#
#   deploy/make-certs.sh DIR [NAME...]
#
# DIR/ca.pem, DIR/ca-key.pem: the CA (made once; kept when present).
# DIR/NAME.pem, DIR/NAME-key.pem: a certificate per NAME, valid as both server and client, with
#   subjectAltName DNS:NAME, DNS:localhost, IP:127.0.0.1, IP:::1 plus any extra SANs in TENKS_SANS
#   (e.g. TENKS_SANS="DNS:hv1.lab,IP:192.0.2.10"). Existing certificates are kept.
# Default NAMEs: agent coordinator client.
set -euo pipefail

dir=${1:?usage: make-certs.sh DIR [NAME...]}
shift
names=("$@")
[ ${#names[@]} -eq 0 ] && names=(agent coordinator client)
days=${TENKS_CERT_DAYS:-825}

mkdir -p "$dir"
chmod 700 "$dir"
umask 077

if [ ! -f "$dir/ca.pem" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$dir/ca-key.pem" -out "$dir/ca.pem" -days 3650 \
    -subj "/O=tenks/CN=tenks CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  echo "made CA $dir/ca.pem"
fi

for name in "${names[@]}"; do
  case "$name" in
    *[!A-Za-z0-9_.-]*|'') echo "make-certs.sh: bad certificate name '$name'" >&2; exit 2 ;;
  esac
  [ -f "$dir/$name.pem" ] && continue
  sans="DNS:$name,DNS:localhost,IP:127.0.0.1,IP:::1${TENKS_SANS:+,$TENKS_SANS}"
  ext=$(mktemp)
  trap 'rm -f "$ext"' EXIT
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=%s\n' "$sans" >"$ext"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$dir/$name-key.pem" -out "$dir/$name.csr" -subj "/O=tenks/CN=$name" 2>/dev/null
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca-key.pem" -CAcreateserial \
    -out "$dir/$name.pem" -days "$days" -extfile "$ext" 2>/dev/null
  rm -f "$dir/$name.csr" "$ext"
  echo "made certificate $dir/$name.pem"
done
chmod 600 "$dir"/*-key.pem
