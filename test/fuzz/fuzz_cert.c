/*
 * A certificate as a hostile smarthost sends it (DER): whatever mbedTLS
 * accepts is then read by tls.c for the pin (tls_spki_pin walks the
 * TBSCertificate to the SubjectPublicKeyInfo) and the names it claims
 * (tls_cert_names), as tls_verify_cb and relayq probe do.
 */
#include <stdint.h>

#include <mbedtls/x509_crt.h>

#include "relayq.h"
#include "client.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mbedtls_x509_crt	 crt;
	unsigned char		 hash[32];
	char			 pin[8 + 64], names[256];

	mbedtls_x509_crt_init(&crt);
	if (mbedtls_x509_crt_parse_der(&crt, data, size) == 0) {
		(void)tls_spki_pin(&crt, hash, pin, sizeof(pin));
		tls_cert_names(&crt, names, sizeof(names));
	}
	mbedtls_x509_crt_free(&crt);
	return 0;
}
