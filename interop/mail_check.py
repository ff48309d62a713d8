"""aiosmtpd receives the confirmation mail of a sign-up; it parses cleanly with
Python's email package, has text and HTML parts, and its link confirms the account."""

import email.utils
import glob
import os
import re

from common import MAILDIR, login, signup_and_confirm

msg = signup_and_confirm("mail@example.com")
assert not msg.defects, msg.defects
assert msg.get_content_type() == "multipart/alternative", msg.get_content_type()
plain = msg.get_body(preferencelist=("plain",))
html = msg.get_body(preferencelist=("html",))
assert plain is not None and html is not None, "text and HTML parts"
assert "/confirm/" in plain.get_content() and "/confirm/" in html.get_content()
assert msg["Subject"] == "Confirm your email address", msg["Subject"]
assert email.utils.parsedate_to_datetime(msg["Date"]) is not None
assert re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", msg["Message-ID"].strip()), msg["Message-ID"]
assert email.utils.parseaddr(msg["From"])[1], msg["From"]
assert email.utils.parseaddr(msg["To"])[1] == "mail@example.com", msg["To"]
for path in glob.glob(os.path.join(MAILDIR, "*.eml")):
    with open(path, "rb") as f:
        assert all(len(line.rstrip(b"\r\n")) <= 998 for line in f), "RFC 5322 line length"
assert login("mail@example.com")["accessToken"], "the link confirmed the account"
print(f"{msg['Subject']!r} from {msg['From']}")
