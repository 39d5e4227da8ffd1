"""The README's curl examples, pasted as they stand, with a real key and device in place.

The server does not dispatch: the examples' media URL is on the internet,
which tests never reach. Accepted is what pasting them shows.
"""

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.contract import RECIPIENT, get_message
from tests.support.server import KurirProcess

README = Path(__file__).parents[2] / "README.md"


def _examples(path: str = "/send/") -> list[str]:
    """The curl commands to ``path…`` in the README's shell blocks (a blank line ends one)."""
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(), re.DOTALL)
    return [
        command
        for block in blocks
        for command in block.strip().split("\n\n")
        if command.startswith("curl ") and f"8080{path}" in command
    ]


@pytest.fixture
def accepting(database_url: str, tmp_path: Path) -> Iterator[KurirProcess]:
    process = KurirProcess(database_url, tmp_path, args=("--no-dispatch",)).start()
    try:
        yield process
    finally:
        process.stop()


def test_the_examples_cover_every_send() -> None:
    paths = set()
    for command in _examples():
        found = re.search(r"/send/\w+", command)
        assert found is not None, command
        paths.add(found[0])
    assert paths == {"/send/text", "/send/media", "/send/button"}


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_every_curl_example_is_accepted_as_pasted(accepting: KurirProcess) -> None:
    kinds = []
    with accepting.client() as http:
        for example in _examples():
            answer = _pasted(example, accepting)
            assert (answer["status"], answer["to"]) == ("ok", RECIPIENT), example
            kinds.append(get_message(http, str(answer["message_id"]))["type"])
    assert sorted(kinds) == ["button", "media", "text"]


def _pasted(example: str, server: KurirProcess) -> dict[str, object]:
    command = (
        example.replace("YOUR_API_KEY", server.api_key)
        .replace("YOUR_DEVICE_ID", server.device_id)
        .replace("http://127.0.0.1:8080", server.base_url)
    )
    run = subprocess.run(
        ["bash", "-c", f"{command} --silent --show-error"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    answer: dict[str, object] = json.loads(run.stdout)
    return answer


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_the_broadcast_example_is_accepted_as_pasted(accepting: KurirProcess) -> None:
    [example] = _examples("/broadcast/")
    answer = _pasted(example, accepting)
    assert (answer["status"], answer["message"], answer["total_receiver"]) == (
        "ok",
        "Broadcast created",
        2,
    )
