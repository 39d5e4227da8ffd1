"""The one way Kurir makes HTTP requests on a customer's behalf.

Fetching media from a customer's URL and delivering webhooks both go through
`Egress`, so both get the same protections: only http(s) URLs; only public
addresses, checked against the address actually connected to (see
`kurir.egress.pinning`); redirects followed only when the caller asks, each
target checked again; a connect and a total timeout; and a byte limit on
every answer. `check_url` applies the URL rules at accept time, without I/O.
"""

from kurir.egress.client import MAX_REDIRECTS, Egress, Fetched, Posted
from kurir.egress.errors import (
    AddressRefused,
    EgressError,
    EgressTimeout,
    InvalidURL,
    PermanentEgressError,
    RedirectRefused,
    TooLarge,
    TransientEgressError,
)
from kurir.egress.pinning import Resolver, system_resolver
from kurir.egress.rules import check_url, redact, refusal

__all__ = [
    "MAX_REDIRECTS",
    "AddressRefused",
    "Egress",
    "EgressError",
    "EgressTimeout",
    "Fetched",
    "InvalidURL",
    "PermanentEgressError",
    "Posted",
    "RedirectRefused",
    "Resolver",
    "TooLarge",
    "TransientEgressError",
    "check_url",
    "redact",
    "refusal",
    "system_resolver",
]
