"""The dashboard's certificate: its fingerprint, for people to compare with what their
browser shows, and an HTTPS client context that trusts it (doctor's check)."""

from __future__ import annotations

import hashlib
import ssl

from smartcron.errors import OperationFailed


def certificate_fingerprint(path: str) -> str:
    """Given a PEM certificate file, return the SHA-256 fingerprint of its first certificate,
    as browsers and `openssl x509 -fingerprint -sha256` show it (AB:CD:...)."""
    try:
        with open(path, encoding="ascii") as handle:
            text = handle.read()
        end = "-----END CERTIFICATE-----"
        der = ssl.PEM_cert_to_DER_cert(text[: text.index(end) + len(end)])
    except (OSError, ValueError) as exc:
        raise OperationFailed(f"cannot read the certificate {path}: {exc}") from None
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def client_context(certificate: str) -> ssl.SSLContext:
    """Return a TLS context that trusts the system's CAs and this certificate itself (a
    self-signed one), without matching the host name: doctor connects to 127.0.0.1."""
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=certificate)
    context.check_hostname = False
    return context
