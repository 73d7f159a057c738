"""Backroom hub: the store's source of truth (catalog, stock ledger, sales) and its adapters."""

__version__ = "0.1.0"
