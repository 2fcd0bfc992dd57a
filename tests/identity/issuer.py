"""A local token issuer for tests: its own RSA and EC keys, its JWKS and OpenID discovery
document served over HTTPS on loopback with a certificate from a test CA (trustme), counting
every request it answers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import ssl
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def new_ec() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_jwk(key: PrivateKey, kid: str) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPrivateKey):
        jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
        jwk["alg"] = "RS256"
    else:
        jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
        jwk["alg"] = "ES256"
    jwk.update(kid=kid, use="sig")
    return jwk


class LocalIssuer:
    """`url` is the issuer (iss); `keys` maps kid to private key and is what the JWKS serves
    (change it to rotate); `mode` is "up", or "down" to answer 503."""

    def __init__(self, ca: trustme.CA, ca_file: Path, audience: str = "evshare-api") -> None:
        self.ca_file = ca_file
        self.audience = audience
        self.rsa, self.ec = new_rsa(), new_ec()
        self.keys: dict[str, PrivateKey] = {"rsa-1": self.rsa, "ec-1": self.ec}
        self.hits: Counter[str] = Counter()
        self.mode = "up"
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.hits[self.path] += 1
                if issuer.mode == "down":
                    self._send(503, b'{"message":"down"}')
                elif self.path == "/.well-known/openid-configuration":
                    doc = {"issuer": issuer.url, "jwks_uri": issuer.url + "/jwks.json"}
                    self._send(200, json.dumps(doc).encode())
                elif self.path == "/jwks.json":
                    jwks = {"keys": [public_jwk(k, kid) for kid, k in issuer.keys.items()]}
                    self._send(200, json.dumps(jwks).encode())
                else:
                    self._send(404, b"{}")

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def jwks_hits(self) -> int:
        return self.hits["/jwks.json"]

    def claims(self, **claims: Any) -> dict[str, Any]:
        now = int(time.time())
        base: dict[str, Any] = {
            "iss": self.url,
            "aud": self.audience,
            "sub": "user-1",
            "iat": now,
            "exp": now + 600,
        }
        base.update(claims)
        return {k: v for k, v in base.items() if v is not None}

    def token(
        self,
        *,
        kid: str = "rsa-1",
        key: PrivateKey | None = None,
        headers: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        signer = key if key is not None else self.keys[kid]
        alg = "RS256" if isinstance(signer, rsa.RSAPrivateKey) else "ES256"
        return jwt.encode(
            self.claims(**claims), signer, algorithm=alg, headers={"kid": kid, **(headers or {})}
        )

    def unsigned(self, alg: str = "none", kid: str = "rsa-1", **claims: Any) -> str:
        header = b64(json.dumps({"alg": alg, "typ": "JWT", "kid": kid}).encode())
        payload = b64(json.dumps(self.claims(**claims)).encode())
        return f"{header}.{payload}."

    def hs256_with_public_key(self, kid: str = "rsa-1", **claims: Any) -> str:
        """The classic confusion attack: HMAC "signed" with the issuer's public RSA key."""
        secret = self.rsa.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
        payload = b64(json.dumps(self.claims(**claims)).encode())
        signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{b64(signature)}"


def identity_toml(issuers: dict[str, LocalIssuer], extra: str = "", **top: object) -> str:
    """An identity file trusting each local issuer under its alias."""
    lines = [f"{k} = {v!r}" for k, v in top.items()]
    for alias, local in issuers.items():
        lines += [
            f"[issuers.{alias}]",
            f'url = "{local.url}"',
            f'audiences = ["{local.audience}"]',
            f'ca_file = "{local.ca_file}"',
            'chargers_claim = "chargers"',
        ]
    return "\n".join(lines) + "\n" + extra
