"""The tests' Graph API stand-in for many business numbers, served in a process of its own.

``benchmarks/bench_cloud.py`` starts this so that the stand-in's work (payload
checks as Meta documents them, Meta's answers, recording every request) runs
beside the worker, not inside it. Each number is one ``GraphStandin`` (ids
``phone_number_id(0)`` … ``phone_number_id(n - 1)``), behind one router:

* ``/{version}/{phone_number_id}…``: that number's Graph API;
* ``GET /healthz``: 200 once serving;
* ``GET /bench/sent``: ``{"requests": n, "sent": {"<biz_opaque_callback_data>": count}}``
  over every number, to check that each Kurir message went out once.

    python benchmarks/graph_server.py --port 8090 --numbers 20
"""

import argparse
import sys
from collections import Counter
from pathlib import Path

import msgspec
import uvicorn
from starlette.types import Receive, Scope, Send

# The stand-in lives with the tests, at the repository's root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.graph_data import PhoneNumber
from tests.support.graph_standin import GraphStandin

HOST = "127.0.0.1"


def phone_number_id(n: int) -> str:
    return f"1065403522{n:05d}"


def phone_number(n: int) -> PhoneNumber:
    return PhoneNumber(
        id=phone_number_id(n),
        display_phone_number=f"+62 812-5{n:03d}-0000",
        verified_name=f"Bench {n}",
        quality_rating="GREEN",
    )


class Router:
    """One ASGI app in front of one stand-in per number, routed by the path's number id."""

    def __init__(self, numbers: int) -> None:
        self.standins = {
            phone_number_id(n): GraphStandin(phone=phone_number(n)) for n in range(numbers)
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        parts = scope["path"].split("/")
        standin = self.standins.get(parts[2]) if len(parts) > 2 else None
        if standin is not None:
            await standin(scope, receive, send)
            return
        if scope["path"] == "/healthz":
            await _answer(send, b"ok")
        elif scope["path"] == "/bench/sent":
            await _answer(send, msgspec.json.encode(self.sent()))
        else:
            await _answer(send, b"no such number", status=404)

    def sent(self) -> dict[str, object]:
        requests = 0
        counts: Counter[str] = Counter()
        for standin in self.standins.values():
            recorded = standin.requests
            requests += len(recorded)
            for request in recorded:
                if request.wamid is not None:
                    counts[str(request.payload.get("biz_opaque_callback_data"))] += 1
        return {"requests": requests, "sent": dict(counts)}


async def _answer(send: Send, body: bytes, status: int = 200) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--numbers", type=int, default=20)
    args = parser.parse_args()
    uvicorn.run(
        Router(args.numbers),
        host=HOST,
        port=args.port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
