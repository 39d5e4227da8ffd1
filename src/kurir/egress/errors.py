"""What can go wrong with a request Kurir makes on a customer's behalf.

Callers decide by class: a `PermanentEgressError` will happen again however
often the request is repeated, a `TransientEgressError` may not. An HTTP
status is not an error here; it is returned, and the caller judges it.

Every message is written for the customer who gave the URL and ends up in
places they see (a message's ``last_error``, a webhook's delivery log), so it
names the URL without userinfo or query string and never carries more of the
network's detail than the customer needs to fix the problem.
"""


class EgressError(Exception):
    """A request that did not complete; ``message`` says why, safe to show the customer."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PermanentEgressError(EgressError):
    """Repeating the request would only repeat the failure."""


class TransientEgressError(EgressError):
    """The request may succeed later: a connection failure, or no answer in time."""


class EgressTimeout(TransientEgressError):
    """No connection within the connect timeout, or no whole answer within the total one."""


class InvalidURL(PermanentEgressError, ValueError):
    """A URL Kurir will not use; raised at accept time by `check_url` as well."""


class AddressRefused(InvalidURL):
    """The URL's host is, or resolves to, a loopback, private or otherwise non-public address."""


class RedirectRefused(PermanentEgressError):
    """A redirect Kurir does not follow: too many, from https to http, or to a bad URL."""


class TooLarge(PermanentEgressError):
    """The answer's body is larger than the caller's limit."""
