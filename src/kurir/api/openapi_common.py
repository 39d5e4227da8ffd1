"""Example values the API document's operation tables share."""

from kurir.api.operation import Problem

MESSAGE_ID = "3EB0018F6A2B7C4D5E6F"
DEVICE = "dev-main"

DEVICE_NOT_FOUND = Problem(404, "device 'dev-other' not found")

BUTTON_CONTENT = {
    "message_header": "Header",
    "message": "Pilih salah satu:",
    "message_footer": "Footer",
    "buttons": ["Opsi 1", "Opsi 2"],
    "layout": "reply_buttons",
}
