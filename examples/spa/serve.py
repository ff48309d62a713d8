#!/usr/bin/env python3
"""Serves the example app from its own origin (`just spa`).

Static files from this folder, `config.js` telling the app where authql is
(AUTHQL_URL), and index.html for the app's own paths (/confirm-email, and
/oauth/callback where a sign-in provider's flow ends).
Standard library only. Usage: serve.py PORT
"""

import http.server
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
AUTHQL_URL = os.environ.get("AUTHQL_URL", "http://localhost:8080")
SCRIPTS = {f"/{name}.js" for name in ("app", "gql", "passkeys", "providers", "ui", "webauthn")}


class Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=str(HERE), **kwargs)

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/config.js":
            body = f"window.AUTHQL_URL = {json.dumps(AUTHQL_URL)};\n".encode()
            self.send_response(200)
            self.send_header("content-type", "text/javascript")
            self.send_header("content-length", str(len(body)))
            self.send_header("cache-control", "no-store")
            self.end_headers()
            self.wfile.write(body)
            return
        if path in ("/", "/confirm-email", "/oauth/callback"):
            self.path = "/index.html"
        elif path not in SCRIPTS and path != "/index.html":
            self.send_error(404)
            return
        super().do_GET()

    def end_headers(self):
        # Scripts only from this origin, requests only to it and authql.
        self.send_header(
            "content-security-policy",
            f"default-src 'self'; connect-src 'self' {AUTHQL_URL}; img-src 'self' data: {AUTHQL_URL}; "
            "style-src 'unsafe-inline'",
        )
        super().end_headers()


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 5173
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    # localhost, not 127.0.0.1: passkeys need a domain.
    print(f"example app at http://localhost:{server.server_address[1]} (authql at {AUTHQL_URL})", flush=True)
    server.serve_forever()
