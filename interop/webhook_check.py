"""PyPI standardwebhooks (the Standard Webhooks reference library) verifies real
deliveries of a running authql to a receiver on loopback, and refuses a tampered
body, another secret and a stale timestamp. Leaves the deliveries in
WEBHOOKS_DUMP for the svix check."""

import http.server
import json
import os
import threading
import time

from standardwebhooks import Webhook, WebhookVerificationError

from common import PASSWORD, graphql, login, signup_and_confirm

got = []


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        got.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
threading.Thread(target=server.serve_forever, daemon=True).start()

admin = login(os.environ["HOOKS_ADMIN"])["accessToken"]
made = graphql("mutation($u: String!) { createWebhookEndpoint(url: $u) { secret endpoint { id } } }",
               {"u": f"http://127.0.0.1:{server.server_address[1]}/hook"}, token=admin)
secret = made["data"]["createWebhookEndpoint"]["secret"]
assert secret.startswith("whsec_"), made

signup_and_confirm("hooked@example.com")
token = login("hooked@example.com")["accessToken"]
assert graphql("mutation { logout }", token=token)["data"]["logout"] is True

wanted = {"user.created", "user.email_confirmed", "session.created", "session.revoked"}
deadline = time.time() + 30
while time.time() < deadline and not wanted <= {json.loads(h["body"])["type"] for h in got}:
    time.sleep(0.2)

wh = Webhook(secret)
seen = set()
for hit in got:
    event = wh.verify(hit["body"], hit["headers"])
    seen.add(event["type"])
    assert set(event) == {"type", "timestamp", "data"}, event
assert wanted <= seen, seen

hit = got[0]
tampered = hit["body"].replace(b'"data":{', b'"data":{"admin":true,', 1)
assert tampered != hit["body"]
for body, headers, what in [
    (tampered, hit["headers"], "a tampered body"),
    (hit["body"], {**hit["headers"], "webhook-id": "msg_other"}, "another webhook-id"),
    (hit["body"], {**hit["headers"], "webhook-timestamp": str(int(time.time()) - 600)}, "a stale timestamp"),
]:
    try:
        wh.verify(body, headers)
        raise SystemExit(f"standardwebhooks accepted {what}")
    except WebhookVerificationError:
        pass
try:
    Webhook("whsec_" + "A" * 43 + "=").verify(hit["body"], hit["headers"])
    raise SystemExit("standardwebhooks accepted another secret")
except WebhookVerificationError:
    pass

with open(os.environ["WEBHOOKS_DUMP"], "w") as f:
    json.dump({"secret": secret,
               "deliveries": [{"headers": h["headers"], "body": h["body"].decode()} for h in got]}, f)
print(f"{len(got)} deliveries verified ({', '.join(sorted(seen))}); tampered body, other id, stale timestamp and other secret refused")
