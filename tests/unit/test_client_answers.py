"""How the clients read answers that a Kurir server does not give.

The e2e tests hold the clients against a real server; these cover answers
from elsewhere (a proxy's error page, a server of another kind), which must
still end in a KurirError that says what came back, never in a decoding error.
"""

import httpx
import pytest

from kurir import KurirError
from kurir.api.types import SendResponse
from kurir.client import _decode

SENT = b'{"status":"ok","message_id":"3EB0","from":"628122222222","to":"628111111111"}'


def test_an_answer_decodes_into_its_struct() -> None:
    sent = _decode(httpx.Response(200, content=SENT), SendResponse)
    assert sent == SendResponse(message_id="3EB0", from_="628122222222", to="628111111111")


@pytest.mark.parametrize(
    ("status", "content", "message"),
    [
        # A refusal in the body of a 200.
        (200, b'{"status":"error","message":"device offline"}', "device offline"),
        (404, b'{"status":"error"}', "unknown error"),
        (502, b"<html>Bad Gateway</html>", "unexpected response: '<html>Bad Gateway</html>'"),
        (200, b'{"status":"ok","data":[]}', 'unexpected response: \'{"status":"ok","data":[]}\''),
        (200, b"[1, 2]", "unexpected response: '[1, 2]'"),
    ],
)
def test_anything_else_is_a_kurir_error(status: int, content: bytes, message: str) -> None:
    with pytest.raises(KurirError) as caught:
        _decode(httpx.Response(status, content=content), SendResponse)
    assert (caught.value.status_code, caught.value.message) == (status, message)
