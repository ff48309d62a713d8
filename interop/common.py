"""Helpers the Python checks share: GraphQL over urllib, and mail from the sink's folder."""

import email
import email.policy
import glob
import json
import os
import time
import urllib.request

URL = os.environ["AUTHQL_URL"]
MAILDIR = os.environ["MAILDIR"]
PASSWORD = "Correct-Horse-Battery-Staple-42"


def graphql(query, variables=None, token=None):
    req = urllib.request.Request(
        URL + "/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"content-type": "application/json"},
    )
    if token:
        req.add_header("authorization", "Bearer " + token)
    with urllib.request.urlopen(req) as resp:
        return json.load(resp)


def wait_for_mail(to, timeout=30):
    """The first message to `to` the sink received, parsed with the standard library."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for path in sorted(glob.glob(os.path.join(MAILDIR, "*.eml"))):
            with open(path, "rb") as f:
                msg = email.message_from_binary_file(f, policy=email.policy.default)
            if to in str(msg["To"]):
                return msg
        time.sleep(0.2)
    raise SystemExit(f"no mail to {to} within {timeout}s")


def link_in(msg):
    text = msg.get_body(preferencelist=("plain",)).get_content()
    start = text.index("http")
    return text[start:].split()[0]


def signup_and_confirm(email_address):
    r = graphql("mutation($i: SignupInput!) { signup(input: $i) { confirmationRequired } }",
                {"i": {"email": email_address, "password": PASSWORD}})
    assert r["data"]["signup"]["confirmationRequired"], r
    msg = wait_for_mail(email_address)
    # Opening the link shows a button; pressing it (a POST) confirms.
    with urllib.request.urlopen(link_in(msg)) as resp:
        assert resp.status == 200 and b'method="post"' in resp.read(), resp.status
    with urllib.request.urlopen(urllib.request.Request(link_in(msg), method="POST")) as resp:
        assert resp.status == 200, resp.status
    return msg


def login(email_address):
    r = graphql("mutation($e: String!, $p: String!) { login(input: { email: $e, password: $p }) { auth { accessToken refreshToken } } }",
                {"e": email_address, "p": PASSWORD})
    return r["data"]["login"]["auth"]
