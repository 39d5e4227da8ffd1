"""Dispatch: claiming due messages, device leases, pacing, retries."""

from kurir.dispatch.dispatcher import Dispatcher, DispatchSettings

__all__ = ["DispatchSettings", "Dispatcher"]
