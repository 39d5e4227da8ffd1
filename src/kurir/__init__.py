"""Kurir: a self-hosted WhatsApp gateway with an Alat WA compatible API.

The public Python surface is the HTTP client; the server is run with the
``kurir`` command.
"""

from kurir.client import AsyncClient, Client, KurirError

__all__ = ["AsyncClient", "Client", "KurirError"]
