"""Identities: bearer JWTs from the operator's own identity provider (OIDC, Amazon Cognito),
each seeing only its chargers.

config.py reads the identity file; jwks.py keeps each issuer's keys; tokens.py verifies tokens
and caches the result; claims.py maps claims to what a caller may see; gateway.py reads the
claims API Gateway verified. Importing this package imports neither PyJWT nor cryptography:
they load when the first token is verified, so deployments without identities pay nothing.
"""
