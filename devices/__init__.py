"""Backroom devices agent: drivers, protocols and simulators for shop hardware."""
