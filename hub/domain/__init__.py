"""The pure domain core: no Flask, paho, serial, evdev, escpos, zeroconf, apscheduler or database."""
