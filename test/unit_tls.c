/*
 * Unit tests for src/tls.c's reading of a certificate the server sent:
 * the SubjectPublicKeyInfo found by walking the TBSCertificate (the pin,
 * which must equal what OpenSSL computes), and the names it claims.
 * The same code reads any certificate in test/fuzz/fuzz_cert.c.
 * Linked into test/unit (with src/tls.o); its table of groups runs test_tls().
 */
#include <stdio.h>
#include <string.h>

#include <mbedtls/x509_crt.h>

#include "relayq.h"
#include "client.h"
#include "unit.h"

/*
 * openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256
 *     -subj /CN=unit.example
 *     -addext subjectAltName=DNS:unit.example,IP:192.0.2.7
 * and its pin from openssl x509 -pubkey | openssl pkey -pubin -outform
 * DER | sha256sum
 */
static const char tls_unit_pem[] =
"-----BEGIN CERTIFICATE-----\n"
"MIIBozCCAUqgAwIBAgIULzZ1sNasDxnywQYR+BJfBqtN/t0wCgYIKoZIzj0EAwIw\n"
"FzEVMBMGA1UEAwwMdW5pdC5leGFtcGxlMCAXDTI2MTIwMzE3MjUyMloYDzIxMjYx\n"
"MTA5MTcyNTIyWjAXMRUwEwYDVQQDDAx1bml0LmV4YW1wbGUwWTATBgcqhkjOPQIB\n"
"BggqhkjOPQMBBwNCAAQlvVwEKjSoYzqhfpapdKhj2NjokZAoH70HF/JsbaDLvOTh\n"
"87xwKXbUDqxcvFCcvBT7fVB0ZtRlLmbfQ7eI8cJ+o3IwcDAdBgNVHQ4EFgQU6V92\n"
"epxg0TFaVt5GYLQFzY/J7QowHwYDVR0jBBgwFoAU6V92epxg0TFaVt5GYLQFzY/J\n"
"7QowDwYDVR0TAQH/BAUwAwEB/zAdBgNVHREEFjAUggx1bml0LmV4YW1wbGWHBMAA\n"
"AgcwCgYIKoZIzj0EAwIDRwAwRAIgaH+A7DyVau9V81IEnXdBV+wVLjlxnohsD16O\n"
"0UKM070CIADXnZVoeCDKHmSkpwIdUQaxjAi9eY3SAzd/BmtnM1f3\n"
"-----END CERTIFICATE-----\n";

void
test_tls(void)
{
	mbedtls_x509_crt	 crt;
	unsigned char		 hash[32];
	char			 pin[8 + 64], names[256];
	int			 rc;

	mbedtls_x509_crt_init(&crt);
	rc = mbedtls_x509_crt_parse(&crt, (const unsigned char *)tls_unit_pem,
	    sizeof(tls_unit_pem));
	CASE("tls: the SPKI pin of a certificate is OpenSSL's");
	EXPECT_INT("parse", rc, 0);
	if (rc == 0) {
		EXPECT_INT("tls_spki_pin", tls_spki_pin(&crt, hash, pin,
		    sizeof(pin)), 0);
		EXPECT_STR("pin", pin, "sha256:a2acc432f95f351de3b4f2b1ebb74e0e"
		    "9a9c87d8e42f2e13c055a8b0bdeb0583");
	}
	END();
	CASE("tls: a pin buffer too small is refused");
	EXPECT_INT("tls_spki_pin", rc == 0 ? tls_spki_pin(&crt, hash, pin,
	    sizeof(pin) - 1) : -1, -1);
	END();
	CASE("tls: the names a certificate claims");
	if (rc == 0) {
		tls_cert_names(&crt, names, sizeof(names));
		EXPECT_STR("names", names, "DNS:unit.example, IP:192.0.2.7");
	}
	END();
	/* a TBSCertificate cut short: no SPKI to find, no pin */
	CASE("tls: a truncated TBSCertificate gives no pin");
	if (rc == 0) {
		crt.tbs.len = 40;
		EXPECT_INT("tls_spki_pin", tls_spki_pin(&crt, hash, pin,
		    sizeof(pin)), -1);
	}
	END();
	mbedtls_x509_crt_free(&crt);
}
