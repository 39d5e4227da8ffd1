"""The fastest honest webhook receiver: a bare ASGI app on uvicorn with httptools.

It reads each body whole, answers 200 and keeps the first arrival time (ms,
wall clock) of each ``webhook-id``; it verifies nothing, so what the
benchmarks measure is Kurir and HTTP, not the receiver. ``GET /stats`` gives
``{"requests": n, "arrivals": {webhook-id: ms}}``; ``POST /reset`` forgets.
"""

import argparse
import json
import time
from typing import Any

import uvicorn

_arrivals: dict[str, int] = {}
_requests = 0
_OK = [(b"content-type", b"text/plain"), (b"content-length", b"2")]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global _requests  # one process, one event loop: a module counter is enough
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    body = b"ok"
    headers = _OK
    path = scope["path"]
    if path == "/stats":
        body = json.dumps({"requests": _requests, "arrivals": _arrivals}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    elif path == "/reset":
        _arrivals.clear()
        _requests = 0
    elif path != "/healthz":
        _requests += 1
        for name, value in scope["headers"]:
            if name == b"webhook-id":
                _arrivals.setdefault(value.decode(), time.time_ns() // 1_000_000)
                break
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        interface="asgi3",
        http="httptools",
        loop="uvloop",
        lifespan="off",
        log_level="warning",
        access_log=False,
        backlog=4096,
    )


if __name__ == "__main__":
    main()
