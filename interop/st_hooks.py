"""Schemathesis hooks for authql: the check the interop run asks of every
fuzzed request (no 5xx, no INTERNAL error), and values for authql's scalars."""

import graphql
import schemathesis
from hypothesis import strategies as st
from schemathesis.graphql import nodes

schemathesis.graphql.scalar(
    "DateTime",
    st.datetimes(timezones=st.just(__import__("datetime").timezone.utc)).map(lambda d: nodes.String(d.isoformat())),
)
schemathesis.graphql.scalar("Upload", st.just(nodes.Null))


def _object(fields):
    return nodes.Object(
        [graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=v) for k, v in fields.items()]
    )


# Any JSON value (a passkey ceremony's `credential`), with the member names of
# WebAuthn's response JSON among the random ones so that parsing goes deeper.
_keys = st.sampled_from(["id", "rawId", "type", "response", "clientDataJSON", "attestationObject",
                         "authenticatorData", "signature", "userHandle", "clientExtensionResults"])
_json = st.recursive(
    st.one_of(
        st.just(nodes.Null), st.booleans().map(nodes.Boolean),
        st.integers(-(2**31), 2**31 - 1).map(nodes.Int), st.text(max_size=40).map(nodes.String),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(nodes.List),
        st.dictionaries(st.one_of(_keys, st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)), inner, max_size=5)
        .map(_object),
    ),
    max_leaves=12,
)
schemathesis.graphql.scalar("JSON", _json)


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
