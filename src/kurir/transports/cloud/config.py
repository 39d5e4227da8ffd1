"""A ``cloud`` device's config: which number, whose credentials, and where Graph is.

Every value is checked when the device is added, so a typo shows then and
not as a failed send. Messages about a secret name the field, never its
value; the config's repr hides them too, so no log line can carry one.
"""

import ipaddress
import re
from urllib.parse import urlsplit

import msgspec

from kurir.domain.errors import ValidationError
from kurir.domain.text import check_text

#: Meta's Graph API; a device may name another (a stand-in, a proxy).
GRAPH_URL = "https://graph.facebook.com"
#: The Graph API version the transport was written against.
GRAPH_VERSION = "v23.0"
#: Meta's default throughput for a business number, in messages per second.
DEFAULT_MESSAGES_PER_SECOND = 80.0
#: Meta's limit on a list message's button label.
MAX_LIST_BUTTON_LABEL = 20

#: The fields that are secrets.
SECRET_FIELDS = frozenset({"access_token", "app_secret", "verify_token"})

_VERSION = re.compile(r"v\d{1,3}\.\d{1,3}")
_PHONE_NUMBER_ID = re.compile(r"\d{1,32}")
# Visible ASCII without spaces: a token goes into an HTTP header as it is.
_TOKEN = re.compile(r"[\x21-\x7e]{1,4096}")
_MAX_RATE = 1000.0


class CloudConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What a device on WhatsApp's Cloud API needs; see docs/cloud-api.md."""

    #: The business number's id in Meta's console (not the number itself).
    phone_number_id: str
    #: A system user's permanent token with whatsapp_business_messaging.
    access_token: str
    #: The Meta app's secret, with which Meta signs its webhooks.
    app_secret: str
    #: What Kurir expects back when Meta verifies the webhook URL.
    verify_token: str
    version: str = GRAPH_VERSION
    base_url: str = GRAPH_URL
    #: The button that opens a list message (4 to 10 choices).
    list_button_label: str = "Pilih"
    #: Sends per second at most, on top of the device's pacing.
    messages_per_second: float = DEFAULT_MESSAGES_PER_SECOND

    def __repr__(self) -> str:
        # The generated repr would show every field, secrets included.
        return (
            f"CloudConfig(phone_number_id={self.phone_number_id!r}, version={self.version!r}, "
            f"base_url={self.base_url!r}, secrets hidden)"
        )

    @property
    def is_local_stand_in(self) -> bool:
        """Whether ``base_url`` is on this machine: a stand-in for tests or development."""
        return _is_loopback(urlsplit(self.base_url).hostname or "")

    @property
    def messages_url(self) -> str:
        return f"{self.base_url}/{self.version}/{self.phone_number_id}/messages"

    @property
    def phone_number_url(self) -> str:
        return f"{self.base_url}/{self.version}/{self.phone_number_id}"


def read_cloud_config(config_json: str) -> CloudConfig:
    """The config, each value checked; msgspec.DecodeError or ValidationError if not usable."""
    config = msgspec.json.decode(config_json or "{}", type=CloudConfig)
    if not _PHONE_NUMBER_ID.fullmatch(config.phone_number_id):
        raise ValidationError("phone_number_id must be the number's id from Meta: digits only")
    for name in sorted(SECRET_FIELDS):
        if not _TOKEN.fullmatch(getattr(config, name)):
            raise ValidationError(
                f"{name} must be 1 to 4096 visible ASCII characters without spaces"
            )
    if not _VERSION.fullmatch(config.version):
        raise ValidationError(f"version must be a Graph API version such as {GRAPH_VERSION}")
    label = check_text("list_button_label", config.list_button_label, MAX_LIST_BUTTON_LABEL)
    rate = config.messages_per_second
    if not 0 < rate <= _MAX_RATE:  # also refuses nan
        raise ValidationError(f"messages_per_second must be above 0 and at most {_MAX_RATE:g}")
    return msgspec.structs.replace(
        config, base_url=_base_url(config.base_url), list_button_label=label
    )


def _base_url(raw: str) -> str:
    """The Graph API's root: https, or http only to this machine (a local stand-in).

    The access token goes with every request, so it never crosses a network
    in the clear.
    """
    try:
        parts = urlsplit(raw.strip())
        host = parts.hostname or ""
        parts.port  # noqa: B018  # raises ValueError for a port that is not a number
    except ValueError:
        raise ValidationError("base_url must be an http(s) URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ValidationError("base_url must be an http(s) URL")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValidationError("base_url must hold no credentials, query or fragment")
    if parts.scheme == "http" and not _is_loopback(host):
        raise ValidationError("base_url must be https (http only to localhost, for a stand-in)")
    return raw.strip().rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
