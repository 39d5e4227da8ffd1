"""HTTP: routes, auth, request and response types, error mapping. No SQL here."""

from kurir.api.app import create_app

__all__ = ["create_app"]
