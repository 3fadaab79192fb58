#!/bin/sh
#
# mkcerts.sh DIR - create the certificates the relayq tests need.
#
# Creates in DIR, using only the openssl(1) CLI (OpenSSL 1.1.1 or 3.x):
#   ca.pem ca.key                 test CA
#   server.pem server.key         DNS:localhost + IP:127.0.0.1, signed by CA
#   wrong.pem wrong.key           DNS:wrong.example, signed by the CA
#   selfsigned.pem selfsigned.key localhost, self-signed (not by the CA)
#   expired.pem expired.key       localhost, signed by the CA, expired in 2020
#   notyet.pem notyet.key         localhost, signed by the CA, valid from 2099
#   wildcard.pem wildcard.key     DNS:*.relayq.test, signed by the CA
#   dnsip.pem dnsip.key           DNS:127.0.0.1 (an IP in a DNS-ID), by the CA
#   cnonly.pem cnonly.key         CN=localhost and no SAN at all, by the CA
#   cnignored.pem cnignored.key   CN=localhost, SAN DNS:other.example, by the CA
#   notca.pem notca.key           localhost leaf + an intermediate that is
#                                 not a CA (CA:FALSE) but signed by the CA
#   chain.pem chain.key           localhost leaf + a proper intermediate CA
#   client.pem client.key         CN=relayq client, clientAuth, by the CA
#
# All keys are EC P-256 because they are generated in milliseconds.
# Idempotent: when every file already exists the script does nothing, so
# tests can call it unconditionally.  Otherwise everything is regenerated
# in a scratch directory and moved into place, so a failed run never
# leaves a half-built set (e.g. a server.pem from an older CA).
# Quiet on success; on failure prints openssl's output and exits non-zero.

set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi
dir=$1

FILES="ca.pem ca.key server.pem server.key wrong.pem wrong.key \
selfsigned.pem selfsigned.key expired.pem expired.key \
notyet.pem notyet.key wildcard.pem wildcard.key dnsip.pem dnsip.key \
cnonly.pem cnonly.key cnignored.pem cnignored.key notca.pem notca.key \
chain.pem chain.key client.pem client.key"

all=1
for f in $FILES; do
	[ -s "$dir/$f" ] || all=0
done
[ $all -eq 1 ] && exit 0

mkdir -p "$dir"
work=$(mktemp -d "$dir/.mkcerts.XXXXXX")
log=$work/log
trap 'rm -rf "$work"' EXIT
trap 'exit 1' HUP INT TERM

# Run openssl with output captured; dump the log only when it fails, to
# keep test output clean.
ossl() {
	if ! openssl "$@" >"$log" 2>&1; then
		echo "mkcerts.sh: openssl $1 failed:" >&2
		cat "$log" >&2
		exit 1
	fi
}

genkey() {
	ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	    -pkeyopt ec_param_enc:named_curve -out "$work/$1.key"
}

# Extension sections shared by every certificate.  Leaf certificates
# carry serverAuth EKU and a SAN because verifiers (mbedTLS included)
# match the host name against the SAN only.
cat >"$work/ext.cnf" <<'EOF'
[ ca_ext ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ localhost_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ selfsigned_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyCertSign
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash

[ wrong_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:wrong.example
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ wildcard_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:*.relayq.test
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ dnsip_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ cnonly_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ cnignored_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:other.example
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ leafca_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyCertSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ client_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ inter_ext ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF

# CA
genkey ca
ossl req -new -x509 -key "$work/ca.key" -out "$work/ca.pem" -days 3650 \
    -sha256 -subj "/CN=relayq test CA" \
    -config "$work/ext.cnf" -extensions ca_ext

# sign NAME CN EXTSECTION: CSR for NAME.key, signed by the CA.
sign() {
	ossl req -new -key "$work/$1.key" -out "$work/$1.csr" -subj "/CN=$2" \
	    -config "$work/ext.cnf"
	ossl x509 -req -in "$work/$1.csr" -CA "$work/ca.pem" \
	    -CAkey "$work/ca.key" -CAcreateserial -out "$work/$1.pem" \
	    -days 3650 -sha256 -extfile "$work/ext.cnf" -extensions "$3"
}

genkey server
sign server localhost localhost_ext

genkey wrong
sign wrong wrong.example wrong_ext

genkey wildcard
sign wildcard '*.relayq.test' wildcard_ext
genkey client
sign client 'relayq client' client_ext
genkey dnsip
sign dnsip 127.0.0.1 dnsip_ext
genkey cnonly
sign cnonly localhost cnonly_ext
genkey cnignored
sign cnignored localhost cnignored_ext

# signby NAME ISSUER CN EXTSECTION: like sign, by ISSUER.pem/ISSUER.key
signby() {
	ossl req -new -key "$work/$1.key" -out "$work/$1.csr" -subj "/CN=$3" \
	    -config "$work/ext.cnf"
	ossl x509 -req -in "$work/$1.csr" -CA "$work/$2.pem" \
	    -CAkey "$work/$2.key" -CAcreateserial -out "$work/$1.leaf" \
	    -days 3650 -sha256 -extfile "$work/ext.cnf" -extensions "$4"
}

# Leaf + intermediate files as the server sends them.  "notca" is the
# old basicConstraints attack: a leaf certificate (CA:FALSE) used to sign
# another; "chain" is the same shape with a real intermediate CA.
genkey notcaint
sign notcaint 'relayq test leaf, not a CA' leafca_ext
genkey notca
signby notca notcaint localhost localhost_ext
cat "$work/notca.leaf" "$work/notcaint.pem" >"$work/notca.pem"
genkey chainint
sign chainint 'relayq test intermediate CA' inter_ext
genkey chain
signby chain chainint localhost localhost_ext
cat "$work/chain.leaf" "$work/chainint.pem" >"$work/chain.pem"

# Self-signed: a valid-looking localhost cert that no trusted CA vouches
# for.
genkey selfsigned
ossl req -new -x509 -key "$work/selfsigned.key" -out "$work/selfsigned.pem" \
    -days 3650 -sha256 -subj "/CN=localhost" \
    -config "$work/ext.cnf" -extensions selfsigned_ext

# Expired: openssl x509 -req cannot back-date certificates in 3.0, but
# openssl ca accepts explicit -startdate/-enddate, so use a throwaway CA
# database.
genkey expired
mkdir "$work/db"
: >"$work/db/index.txt"
echo 1000 >"$work/db/serial"
cat >"$work/ca.cnf" <<EOF
[ ca ]
default_ca = tmpca

[ tmpca ]
dir = $work/db
database = \$dir/index.txt
new_certs_dir = \$dir
serial = \$dir/serial
certificate = $work/ca.pem
private_key = $work/ca.key
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
x509_extensions = localhost_ext

[ policy_any ]
commonName = supplied

[ localhost_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
ossl req -new -key "$work/expired.key" -out "$work/expired.csr" \
    -subj "/CN=localhost" -config "$work/ext.cnf"
ossl ca -batch -config "$work/ca.cnf" -notext -in "$work/expired.csr" \
    -out "$work/expired.pem" -startdate 20200101000000Z \
    -enddate 20200201000000Z
genkey notyet
ossl req -new -key "$work/notyet.key" -out "$work/notyet.csr" \
    -subj "/CN=localhost" -config "$work/ext.cnf"
ossl ca -batch -config "$work/ca.cnf" -notext -in "$work/notyet.csr" \
    -out "$work/notyet.pem" -startdate 20990101000000Z \
    -enddate 20991231000000Z

# Sanity: the CA-signed certs chain to the CA, and the expired one fails
# only because of its dates (so a test using it checks what it means to).
ossl verify -CAfile "$work/ca.pem" "$work/server.pem"
ossl verify -CAfile "$work/ca.pem" "$work/wrong.pem"
ossl verify -CAfile "$work/ca.pem" -no_check_time "$work/expired.pem"
if openssl verify -CAfile "$work/ca.pem" "$work/expired.pem" >"$log" 2>&1
then
	echo "mkcerts.sh: expired.pem unexpectedly verifies" >&2
	exit 1
fi

chmod 600 "$work"/*.key
for f in $FILES; do
	mv -f "$work/$f" "$dir/$f"
done
exit 0
