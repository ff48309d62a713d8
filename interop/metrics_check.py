"""PyPI prometheus-client's own text parser reads authql's /metrics on its
management listener (METRICS_ADDR), which counts a login, a refused login and
a mail; a client-chosen operation name and alias never become series; the
public listener answers /metrics with 404."""

import os
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from common import URL, graphql, login, signup_and_confirm

signup_and_confirm("metrics@example.com")
assert login("metrics@example.com")["accessToken"]
refused = graphql('mutation { login(input: { email: "metrics@example.com", password: "Wrong-Horse-Battery-Staple-42" }) { mfaRequired } }')
assert refused["errors"][0]["extensions"]["code"] == "INVALID_CREDENTIALS", refused
graphql("query Picked_By_A_Client { someAlias: __typename }")

try:
    urllib.request.urlopen(URL + "/metrics")
    raise AssertionError("/metrics is served on the public listener")
except urllib.error.HTTPError as e:
    assert e.code == 404, e.code

with urllib.request.urlopen(os.environ["AUTHQL_METRICS_URL"] + "/metrics") as resp:
    text = resp.read().decode()
families = {f.name: f for f in text_string_to_metric_families(text)}


def value(family, **labels):
    return sum(s.value for s in families[family].samples
               if s.name.endswith("_total") and all(s.labels.get(k) == v for k, v in labels.items()))


assert value("authql_logins", outcome="success") >= 1, families["authql_logins"]
assert value("authql_logins", outcome="wrong_password") >= 1
assert value("authql_mails_sent") >= 1
assert "Picked_By_A_Client" not in text and "someAlias" not in text
series = sum(len(f.samples) for f in families.values())
print(f"{len(families)} metric families, {series} samples parsed; a login, a refused login and a mail counted")
