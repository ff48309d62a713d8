"""An SMTP server for the interop checks: aiosmtpd, saving each message as an .eml file.

Usage: smtp_sink.py MAILDIR PORTFILE [--starttls]. Listens on a free loopback
port, writes the port to PORTFILE, and runs until killed. With --starttls it
requires STARTTLS (Python's ssl module, a certificate for 127.0.0.1 from a CA
it makes and writes to MAILDIR/ca.pem) and AUTH as USER/PASSWORD, and records
beside each message (.json) whether it came over TLS and who sent it.
"""

import datetime
import ipaddress
import json
import os
import socket
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

USER, PASSWORD = "mailer", "interop-sink-password"


class Saver:
    def __init__(self, maildir):
        self.maildir = maildir

    async def handle_DATA(self, server, session, envelope):
        name = os.path.join(self.maildir, f"{time.time_ns()}")
        user = session.auth_data.login.decode() if session.authenticated and session.auth_data else None
        meta = {"tls": session.ssl is not None, "user": user}
        with open(name + ".json", "w") as f:
            json.dump(meta, f)
        with open(name + ".part", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(name + ".part", name + ".eml")
        return "250 Message accepted for delivery"


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, auth_data=auth_data)


def tls_context(folder):
    """A CA (its certificate written to folder/ca.pem) and a server certificate for 127.0.0.1 it signed."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    day = datetime.timedelta(days=1)

    def certificate(subject, key, issuer, issuer_key, ca):
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - day).not_valid_after(now + day)
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "interop test CA")])
    ca = certificate(ca_name, ca_key, ca_name, ca_key, True)
    leaf = certificate(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]), key, ca_name, ca_key, False)
    with open(os.path.join(folder, "ca.pem"), "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(os.path.join(folder, "server.pem"), "wb") as f:
        f.write(leaf.public_bytes(serialization.Encoding.PEM))
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(os.path.join(folder, "server.pem"))
    return context


def main():
    maildir, portfile = sys.argv[1], sys.argv[2]
    starttls = "--starttls" in sys.argv[3:]
    os.makedirs(maildir, exist_ok=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    options = {}
    if starttls:
        options = dict(tls_context=tls_context(maildir), require_starttls=True, auth_required=True,
                       auth_require_tls=True, authenticator=authenticate)
    controller = Controller(Saver(maildir), hostname="127.0.0.1", port=port, **options)
    controller.start()
    with open(portfile, "w") as f:
        f.write(str(port))
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
