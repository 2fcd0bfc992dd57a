"""A token issuer for the benchmark's identity row: one RSA key, its JWKS served over HTTPS on
loopback (certificate from a throwaway test CA), an identity file trusting it, and one token
whose group sees every charger on the bench plan. The server fetches the JWKS once and then
verifies the token once: what the row measures is the per-request cost of a cached identity."""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import trustme
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

AUDIENCE = "evshare-bench"


@dataclass(frozen=True, slots=True)
class Identity:
    config: Path  # for EVSHARE_IDENTITY_CONFIG
    token: str  # sent as Authorization: Bearer
    issuer: str


@contextmanager
def issuer(work: Path) -> Iterator[Identity]:
    ca = trustme.CA()
    ca_file = work / "identity-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    jwks = json.dumps({"keys": [{**jwk, "kid": "bench-1", "alg": "RS256", "use": "sig"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/jwks.json" else 404)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(jwks)))
            self.end_headers()
            self.wfile.write(jwks)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    url = f"https://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    config = work / "identity.toml"
    config.write_text(
        f'[issuers.bench]\nurl = "{url}"\naudiences = ["{AUDIENCE}"]\n'
        f'jwks_url = "{url}/jwks.json"\nca_file = "{ca_file}"\ngroups_claim = "groups"\n'
        '[issuers.bench.groups.everything]\nchargers = "all"\nplan = "bench"\n'
    )
    now = int(time.time())
    claims = {"iss": url, "aud": AUDIENCE, "sub": "bench-user", "groups": ["everything"]}
    token = jwt.encode(
        {**claims, "iat": now, "exp": now + 86_400}, key, "RS256", headers={"kid": "bench-1"}
    )
    try:
        yield Identity(config, token, url)
    finally:
        server.shutdown()
        server.server_close()
