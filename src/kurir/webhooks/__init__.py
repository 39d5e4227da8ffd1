"""Inbound provider webhooks and outbound signed deliveries."""
