"""PyPI pyotp, a TOTP implementation authql does not use, reads the otpauth
URI setupMfa returns; its codes turn MFA on and finish a login through
verifyMfa, and a code it made is accepted only once."""

import time

import pyotp

from common import graphql, login, signup_and_confirm

signup_and_confirm("otp@example.com")
token = login("otp@example.com")["accessToken"]
setup = graphql("mutation { setupMfa { secret otpauthUri } }", token=token)["data"]["setupMfa"]
totp = pyotp.parse_uri(setup["otpauthUri"])
assert totp.secret == setup["secret"], "the URI carries the secret shown"
enabled = graphql("mutation($c: String!) { enableMfa(code: $c) { codes } }", {"c": totp.now()}, token=token)
assert len(enabled["data"]["enableMfa"]["codes"]) == 10, enabled

LOGIN = 'mutation { login(input: { email: "otp@example.com", password: "Correct-Horse-Battery-Staple-42" }) { mfaRequired mfaToken } }'
VERIFY = "mutation($i: VerifyMfaInput!) { verifyMfa(input: $i) { accessToken } }"
step = graphql(LOGIN)["data"]["login"]
assert step["mfaRequired"], step
# The code of the next 30-second step: the current one was spent enabling.
code = totp.at(time.time() + 30)
done = graphql(VERIFY, {"i": {"mfaToken": step["mfaToken"], "code": code, "method": "TOTP"}})
assert done["data"]["verifyMfa"]["accessToken"], done
again = graphql(VERIFY, {"i": {"mfaToken": graphql(LOGIN)["data"]["login"]["mfaToken"], "code": code, "method": "TOTP"}})
assert again["errors"][0]["extensions"]["code"] == "INVALID_CODE", again
print(f"{totp.issuer}:{totp.name} — pyotp codes enable MFA and finish a login, each once")
