"""PyJWT verifies an access token (typ at+jwt, RFC 9068) with nothing but /.well-known/jwks.json;
after logout authql refuses the token while an offline verifier still accepts it."""

import jwt

from common import URL, graphql, login, signup_and_confirm

signup_and_confirm("pyjwt@example.com")
auth = login("pyjwt@example.com")
token = auth["accessToken"]

jwks = jwt.PyJWKClient(URL + "/.well-known/jwks.json")
key = jwks.get_signing_key_from_jwt(token)
claims = jwt.decode(token, key.key, algorithms=["EdDSA"], audience="authql", issuer=URL,
                    options={"require": ["exp", "iat", "sub", "iss", "aud", "jti", "client_id"]})
me = graphql("{ me { id } }", token=token)
assert claims["sub"] == me["data"]["me"]["id"], (claims, me)
assert jwt.get_unverified_header(token)["alg"] == "EdDSA"
# RFC 9068: a verifier that checks the type (PyJWT leaves it to the caller) sees an access token.
assert jwt.get_unverified_header(token)["typ"] == "at+jwt", jwt.get_unverified_header(token)
assert claims["client_id"] == "authql" and claims["jti"], claims

assert graphql("mutation { logout }", token=token)["data"]["logout"] is True
refused = graphql("{ me { id } }", token=token)
assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", refused
jwt.decode(token, key.key, algorithms=["EdDSA"], audience="authql", issuer=URL)  # offline: still valid until exp

# A token signed by another key under the same kid is refused by PyJWT too.
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
forged = jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": key.key_id})
try:
    jwt.decode(forged, key.key, algorithms=["EdDSA"], audience="authql", issuer=URL)
    raise SystemExit("PyJWT accepted a forged token")
except jwt.InvalidSignatureError:
    pass
print(f"kid {key.key_id[:8]}…, sub {claims['sub']}")
