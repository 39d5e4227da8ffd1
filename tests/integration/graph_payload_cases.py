"""Send payloads for the Graph API stand-in's tests: ones Meta accepts.

Each case is one kind of message, or one limit reached exactly; the refused
ones (`graph_payload_refusals`) change one thing in these.
"""

import copy
from dataclasses import dataclass
from typing import Any

TO = "628111111111"
REMOVE = object()


@dataclass(frozen=True)
class Case:
    name: str
    payload: Any
    code: int | None = None
    message: str | None = None
    details: str | None = None


def message(kind: str, content: dict[str, Any], **extra: Any) -> dict[str, Any]:
    base = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": TO}
    return base | {"type": kind, kind: content} | extra


def changed(payload: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """``payload`` with the value at ``path`` (dotted; digits index lists) set, or removed."""
    result = copy.deepcopy(payload)
    *parents, last = [int(part) if part.isdigit() else part for part in path.split(".")]
    target: Any = result
    for part in parents:
        target = target[part]
    if value is REMOVE:
        del target[last]
    else:
        target[last] = value
    return result


def reply(reply_id: str, title: str) -> dict[str, Any]:
    return {"type": "reply", "reply": {"id": reply_id, "title": title}}


def rows(first: int, last: int) -> list[dict[str, str]]:
    return [
        {"id": f"opsi-{n}", "title": f"Opsi {n}", "description": f"Keterangan {n}"}
        for n in range(first, last + 1)
    ]


TEXT = message("text", {"body": "Halo, pesanan Anda sudah dikirim.", "preview_url": False})
IMAGE = message("image", {"link": "https://example.com/bukti.jpg", "caption": "Bukti"})
AUDIO = message("audio", {"id": "1003383421387256"})
DOCUMENT = message(
    "document",
    {"link": "https://example.com/f.pdf", "caption": "Faktur Juni", "filename": "faktur.pdf"},
)
BUTTONS = message(
    "interactive",
    {
        "type": "button",
        "header": {"type": "text", "text": "Header"},
        "body": {"text": "Pilih salah satu:"},
        "footer": {"text": "Footer"},
        "action": {"buttons": [reply("opsi-1", "Opsi 1"), reply("opsi-2", "Opsi 2")]},
    },
)
LIST = message(
    "interactive",
    {
        "type": "list",
        "header": {"type": "text", "text": "Header"},
        "body": {"text": "Pilih salah satu:"},
        "footer": {"text": "Footer"},
        "action": {
            "button": "Pilih",
            "sections": [
                {"title": "Bagian 1", "rows": rows(1, 5)},
                {"title": "Bagian 2", "rows": rows(6, 10)},
            ],
        },
    },
)
TEMPLATE = {
    "messaging_product": "whatsapp",
    "to": "+62 811-1111-1111",
    "type": "template",
    "template": {"name": "hello_world", "language": {"code": "en_US"}},
}
BUTTON = "interactive.action.buttons"
SECTIONS = "interactive.action.sections"

VALID = [
    Case("text", TEXT),
    Case(
        "text with type and recipient_type left out",
        {
            "messaging_product": "whatsapp",
            "to": TO,
            "text": {"body": "https://example.com/a", "preview_url": True},
        },
    ),
    Case("text of 4096 characters", changed(TEXT, "text.body", "x" * 4096)),
    Case("text replying to a message", TEXT | {"context": {"message_id": "wamid.HBgM"}}),
    Case("biz_opaque_callback_data of 512", TEXT | {"biz_opaque_callback_data": "k" * 512}),
    Case("image by link with caption", IMAGE),
    Case("image by id", message("image", {"id": "1003383421387256"})),
    Case("video by link", message("video", {"link": "http://example.com/v.mp4", "caption": "V"})),
    Case("audio by id", AUDIO),
    Case("document with filename", DOCUMENT),
    Case(
        "one reply button, body only",
        message(
            "interactive",
            {"type": "button", "body": {"text": "Ya?"}, "action": {"buttons": [reply("y", "Ya")]}},
        ),
    ),
    Case(
        "three reply buttons at every limit",
        changed(
            changed(
                changed(
                    changed(BUTTONS, BUTTON, [reply(c * 256, c * 20) for c in "abc"]),
                    "interactive.header.text",
                    "h" * 60,
                ),
                "interactive.body.text",
                "b" * 1024,
            ),
            "interactive.footer.text",
            "f" * 60,
        ),
    ),
    Case(
        "reply buttons under an image header",
        changed(
            BUTTONS,
            "interactive.header",
            {"type": "image", "image": {"link": "https://example.com/a.png"}},
        ),
    ),
    Case("list of ten rows in two sections", LIST),
    Case(
        "list of one untitled section at every limit",
        changed(
            changed(
                LIST,
                SECTIONS,
                [{"rows": [{"id": "i" * 200, "title": "t" * 24, "description": "d" * 72}]}],
            ),
            "interactive.action.button",
            "p" * 20,
        ),
    ),
    Case("template hello_world, + and spaces", TEMPLATE),
    Case(
        "template with components",
        changed(
            TEMPLATE,
            "template.components",
            [
                {
                    "type": "header",
                    "parameters": [
                        {"type": "image", "image": {"link": "https://example.com/a.jpg"}}
                    ],
                },
                {"type": "body", "parameters": [{"type": "text", "text": "Budi"}]},
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": "0",
                    "parameters": [{"type": "payload", "payload": "YA"}],
                },
            ],
        ),
    ),
]
