"""The baseline: Starlette+msgspec ``POST /send/button`` and ``/send/text`` that do no work.

Each reads the body and answers a fixed Alat WA success response, served by
uvicorn with the settings ``kurir serve`` uses (its guarded httptools protocol
with the default limits, no access log, no server header, one process). What
Kurir adds on top of this is the price of its own work: authentication,
validation, and the durable commit.

    python benchmarks/bare_app.py --port 8090 [--loop uvloop|asyncio]
"""

import argparse
import gc

import msgspec
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kurir.config import Settings
from kurir.http_guard import guarded_protocol

_RESPONSE = msgspec.json.encode(
    {
        "status": "ok",
        "message_id": "3EB0000000000000000A",
        "from": "628122222222",
        "to": "628111111111",
        "message": "Success",
    }
)


async def send(request: Request) -> Response:
    await request.body()
    return Response(_RESPONSE, media_type="application/json")


async def health(_request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


app = Starlette(
    routes=[
        Route("/send/button", send, methods=["POST"]),
        Route("/send/text", send, methods=["POST"]),
        Route("/healthz", health, methods=["GET"]),
    ]
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    args = parser.parse_args()
    protocol = guarded_protocol(Settings())
    # Importing the protocol brings kurir along (httpx, phonenumbers: some 120
    # modules), whose objects every full collection would walk, about 3 % of
    # this endpoint's time; kurir serve freezes what it built at start-up,
    # and so does this, so that neither pays for its imports.
    gc.freeze()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        loop=args.loop,
        http=protocol,
        access_log=False,
        server_header=False,
        log_level="warning",
        lifespan="off",
    )


if __name__ == "__main__":
    main()
