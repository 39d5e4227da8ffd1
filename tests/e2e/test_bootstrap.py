"""``kurir serve``'s first start: the account, key and device it makes, and what it prints.

The printed curl command is parsed and its request sent as written: that is
what a new user pastes, so it must work as it stands. Also: settings that
``serve`` cannot use stop it at once with a message naming the variable, and
a port in use stops it before it touches the database.
"""

import re
import shlex
import socket
from pathlib import Path

import httpx
import pytest

from tests.e2e.kurir_cli import assert_refused, run_kurir
from tests.support.server import KurirProcess, free_port

#: Unset the fixed bootstrap values the test server sets ("" counts as unset).
RANDOM_BOOTSTRAP = {
    "KURIR_BOOTSTRAP_API_KEY": "",
    "KURIR_BOOTSTRAP_DEVICE_ID": "",
    "KURIR_BOOTSTRAP_DEVICE_PHONE": "",
}


class Banner:
    """What the first start printed: the key, the device, and the curl command's request."""

    def __init__(self, log: str) -> None:
        key = re.search(r"^  API key: (\S+)$", log, re.MULTILINE)
        device = re.search(r"^  device:  (\S+) \(sandbox, (\d+)\)$", log, re.MULTILINE)
        curl = re.search(r"^  curl .*?[^\\]$", log, re.MULTILINE | re.DOTALL)
        assert key, f"no API key in:\n{log}"
        assert device, f"no device in:\n{log}"
        assert curl, f"no curl command in:\n{log}"
        self.api_key = key[1]
        self.device_id, self.device_phone = device[1], device[2]
        self.method, self.url, self.headers, self.body = _curl_request(curl[0])

    def send(self) -> httpx.Response:
        """The printed command's request, as curl would send it."""
        return httpx.request(
            self.method, self.url, headers=self.headers, content=self.body, timeout=10
        )


def _curl_request(command: str) -> tuple[str, str, dict[str, str], str]:
    """Method, URL, headers and body of a ``curl -X … URL -H … -d …`` command line."""
    words = shlex.split(command.replace("\\\n", " "))
    assert words[0] == "curl"
    method, url, headers, body = "GET", "", {}, ""
    options = iter(words[1:])
    for word in options:
        if word == "-X":
            method = next(options)
        elif word == "-H":
            name, _, value = next(options).partition(":")
            headers[name.strip()] = value.strip()
        elif word == "-d":
            body = next(options)
        else:
            assert not word.startswith("-"), f"unexpected curl option {word}"
            url = word
    return method, url, headers, body


def _first_start(database_url: str, log_dir: Path, env: dict[str, str]) -> Banner:
    server = KurirProcess(database_url, log_dir, env=env).start()
    try:
        banner = Banner(server.log())
        response = banner.send()
    finally:
        server.stop()
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["from"], body["to"]) == ("ok", banner.device_phone, "628111111111")
    return banner


def test_first_start_prints_random_values_and_a_working_curl(
    sqlite_database_url: str, tmp_path: Path
) -> None:
    banner = _first_start(sqlite_database_url, tmp_path, RANDOM_BOOTSTRAP)
    assert re.fullmatch(r"kr_[A-Za-z0-9_-]{43}", banner.api_key)
    assert re.fullmatch(r"[0-9a-f]{12}", banner.device_id)
    assert banner.device_phone == "628122222222"
    assert banner.method == "POST"
    assert banner.headers["Authorization"] == banner.api_key
    assert f'"device": "{banner.device_id}"' in banner.body


def test_fixed_values_then_a_second_start_prints_no_key(database_url: str, tmp_path: Path) -> None:
    fixed = {
        "KURIR_BOOTSTRAP_API_KEY": "ci-key-0123456789abcdef",
        "KURIR_BOOTSTRAP_DEVICE_ID": "shop-1",
        "KURIR_BOOTSTRAP_DEVICE_PHONE": "+62 812-3456-7890",
    }
    banner = _first_start(database_url, tmp_path, fixed)
    assert (banner.api_key, banner.device_id, banner.device_phone) == (
        "ci-key-0123456789abcdef",
        "shop-1",
        "6281234567890",
    )

    # Other bootstrap values on the second start change nothing: it is not a first start.
    again = KurirProcess(database_url, tmp_path, env=RANDOM_BOOTSTRAP).start()
    try:
        # The printed URL named the first start's port: aim the request at this one.
        banner.url = f"{again.base_url}/send/button"
        assert banner.send().status_code == 200
    finally:
        again.stop()
    assert "Kurir is set up" not in again.log()
    assert banner.api_key not in again.log()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("KURIR_PORT", "abc", "KURIR_PORT: Expected `int`, got `str`"),
        ("KURIR_TIMEZONE", "Mars/Base", "KURIR_TIMEZONE: unknown time zone 'Mars/Base'"),
        (
            "KURIR_DATABASE_URL",
            "mysql://kurir@localhost/kurir",
            "KURIR_DATABASE_URL (or --database-url): unsupported database URL scheme 'mysql'",
        ),
        (
            "KURIR_BOOTSTRAP_DEVICE_PHONE",
            "123",
            "KURIR_BOOTSTRAP_DEVICE_PHONE is not a valid phone number: '123'",
        ),
    ],
)
def test_serve_refuses_a_bad_setting(
    sqlite_database_url: str, variable: str, value: str, message: str
) -> None:
    # A free port: the address is taken first, so a busy default port would be the refusal.
    env = {"KURIR_PORT": str(free_port()), variable: value}
    result = run_kurir("serve", database_url=sqlite_database_url, env=env)
    assert_refused(result, message, code=2)


def test_a_taken_port_stops_the_first_start_before_the_key_is_made(
    sqlite_database_url: str, tmp_path: Path
) -> None:
    """Else the key would be printed, the server would exit, and no start would show it again."""
    server = KurirProcess(sqlite_database_url, tmp_path, env=RANDOM_BOOTSTRAP)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", server.port))
        taken.listen()
        result = run_kurir(
            "serve", database_url=sqlite_database_url, env={"KURIR_PORT": str(server.port)}
        )
    assert_refused(
        result,
        f"cannot listen on 127.0.0.1:{server.port}: Address already in use; another program "
        "is using it (choose another with KURIR_PORT or --port)",
        code=2,
    )
    assert not list(tmp_path.iterdir())  # no database: the next start is still the first

    server.start()
    try:
        assert Banner(server.log()).send().status_code == 200
    finally:
        server.stop()
