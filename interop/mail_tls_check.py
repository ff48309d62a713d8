"""A second authql mails through an aiosmtpd that requires STARTTLS and AUTH
(TLS by Python's ssl module, the CA given to authql as SMTP_CA_FILE): the
confirmation arrives over TLS, authenticated, and its link confirms."""

import glob
import json
import os

os.environ["AUTHQL_URL"] = os.environ["AUTHQL_TLS_URL"]
os.environ["MAILDIR"] = os.environ["MAILDIR_TLS"]

from common import MAILDIR, login, signup_and_confirm  # noqa: E402

msg = signup_and_confirm("tls@example.com")
metas = [json.load(open(p)) for p in glob.glob(os.path.join(MAILDIR, "*.json"))]
assert metas and all(m["tls"] for m in metas), metas
assert all(m["user"] == "mailer" for m in metas), metas
assert login("tls@example.com")["accessToken"], "the link confirmed the account"
print(f"{len(metas)} mail(s) over STARTTLS, authenticated as {metas[0]['user']}")
