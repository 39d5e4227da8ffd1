"""The seed document's request, sent as it is, against a real server."""

from kurir.domain.ids import is_message_id
from tests.support.server import KurirProcess

SEED_BODY = {
    "device": "YOUR_DEVICE_ID",
    "phone": "628111111111",
    "message_header": "Header",
    "message": "Pilih salah satu:",
    "message_footer": "Footer",
    "buttons": ["Opsi 1", "Opsi 2", "Opsi 3"],
}


def test_seed_request_succeeds_with_documented_shape(server: KurirProcess) -> None:
    with server.client() as http:
        response = http.post("/send/button", json={**SEED_BODY, "device": server.device_id})
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["status", "message_id", "from", "to", "message"]
    assert body["status"] == "ok"
    assert body["from"] == server.device_phone
    assert body["to"] == "628111111111"
    assert body["message"] == "Success"
    assert is_message_id(body["message_id"])
