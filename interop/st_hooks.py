"""Schemathesis hooks for authql: the check the interop run asks of every
fuzzed request (no 5xx, no INTERNAL error), and values for authql's scalars."""

import schemathesis
from hypothesis import strategies as st
from schemathesis.graphql import nodes

schemathesis.graphql.scalar(
    "DateTime",
    st.datetimes(timezones=st.just(__import__("datetime").timezone.utc)).map(lambda d: nodes.String(d.isoformat())),
)
schemathesis.graphql.scalar("Upload", st.just(nodes.Null))


@schemathesis.check
def no_server_failure(ctx, response, case):
    """Bad input gets a coded error, never a 5xx or an INTERNAL one."""
    if response.status_code >= 500:
        raise AssertionError(f"HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        return None
    for error in (body or {}).get("errors") or []:
        if (error.get("extensions") or {}).get("code") == "INTERNAL":
            raise AssertionError(f"INTERNAL: {error}")
    return None
