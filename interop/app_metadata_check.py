"""PyJWT verifies, with nothing but /.well-known/jwks.json, an access token that
carries the app metadata an administrator set (claim app_metadata), from the
first refresh after it was set."""

import os

import jwt

from common import URL, graphql, login, signup_and_confirm

signup_and_confirm("metadata@example.com")
auth = login("metadata@example.com")
me = graphql("{ me { id } }", token=auth["accessToken"])["data"]["me"]["id"]
admin = login(os.environ["HOOKS_ADMIN"])["accessToken"]
roles = {"roles": ["editor"], "plan": "pro"}
r = graphql("mutation($id: ID!, $m: JSON!) { setAppMetadata(id: $id, metadata: $m) { appMetadata } }",
            {"id": me, "m": roles}, token=admin)
assert r["data"]["setAppMetadata"]["appMetadata"] == roles, r

jwks = jwt.PyJWKClient(URL + "/.well-known/jwks.json")


def claims_of(token):
    key = jwks.get_signing_key_from_jwt(token)
    return jwt.decode(token, key.key, algorithms=["EdDSA"], audience="authql", issuer=URL)


assert claims_of(auth["accessToken"])["app_metadata"] == {}, "the token in hand is unchanged"
r = graphql("mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }", {"t": auth["refreshToken"]})
claims = claims_of(r["data"]["refreshToken"]["accessToken"])
assert claims["app_metadata"] == roles, claims
assert claims["sub"] == me and claims["role"] == "USER", claims
print(f"app_metadata {claims['app_metadata']} verified with the JWKS after a refresh")
