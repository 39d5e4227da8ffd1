"""Live smoke test of WhatsApp Web against real WhatsApp: run by a person with a spare phone.

Never run in CI: it pairs a real number and sends real messages. See
docs/whatsapp-web.md. It starts ``kurir serve`` on loopback with the database
of KURIR_DATABASE_URL, adds a WhatsApp Web device, shows its QR code, then
sends a text, a file and a button message to ``--to`` and prints what comes back,
fetching each inbound file through its ``media_url``.
"""

import argparse
import os
import subprocess
import sys
import time

import httpx

from kurir.client import Client, KurirError
from kurir.pairing_cli import pair


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--phone", required=True, help="the number to link (the spare phone)")
    parser.add_argument("--to", required=True, help="where to send the test messages")
    parser.add_argument("--media-url", help="a public image or document to send")
    parser.add_argument("--port", default="8089")
    parser.add_argument("--device", default="smoke")
    args = parser.parse_args()
    env = {**os.environ, "KURIR_PORT": args.port, "KURIR_BOOTSTRAP_API_KEY": "smoke-key-0123456789"}
    kurir = [sys.executable, "-m", "kurir"]
    subprocess.run([*kurir, "migrate"], env=env, check=True)
    subprocess.run(
        [
            *kurir,
            "devices",
            "add",
            "--account",
            "1",
            "--phone",
            args.phone,
            "--id",
            args.device,
            "--transport",
            "whatsapp-web",
        ],
        env=env,
        check=False,  # already added by an earlier run
    )
    server = subprocess.Popen([*kurir, "serve"], env=env)
    try:
        time.sleep(3)
        base_url = f"http://127.0.0.1:{args.port}"
        with Client(base_url, env["KURIR_BOOTSTRAP_API_KEY"]) as client:
            state = next(d.state for d in client.list_devices() if d.device == args.device)
            if state != "connected" and not pair(client, args.device, code=False, phone=None):
                sys.exit("not paired")
            sent = [
                client.send_text(device=args.device, phone=args.to, message="Kurir smoke: text")
            ]
            if args.media_url:
                sent.append(
                    client.send_media(
                        device=args.device, phone=args.to, url=args.media_url, caption="Kurir smoke"
                    )
                )
            sent.append(
                client.send_button(
                    device=args.device,
                    phone=args.to,
                    header="Kurir smoke",
                    message="Pilih salah satu:",
                    footer="Answer 1 or 2",
                    buttons=["Opsi 1", "Opsi 2"],
                )
            )
            for _ in range(60):
                time.sleep(5)
                for message in sent:
                    data = client.get_message(message.message_id)
                    print(data.message_id, data.status, data.last_error or "", data.reply or "")
                for received in client.list_inbound(limit=5).data:
                    print("inbound", received.from_, received.type, received.text or "")
                    if received.media_url:  # send a photo from the other phone to see this
                        fetched = httpx.get(
                            f"{base_url}{received.media_url}",
                            headers={"Authorization": env["KURIR_BOOTSTRAP_API_KEY"]},
                        )
                        print(
                            "  its file:",
                            fetched.status_code,
                            fetched.headers.get("content-type"),
                            len(fetched.content),
                            "bytes",
                        )
    except KurirError as error:
        sys.exit(f"kurir: {error.message}")
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
