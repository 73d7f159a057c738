"""USB barcode scanners (HID keyboards): the pure key decoder lives in keymap, telling scanners
from keyboards in classify, hotplug in udev, the I/O in driver, and the bus side in host."""

from devices.scanner.keymap import DecodedScan, KeyDecoder, decode, encode, split_aim

__all__ = ["DecodedScan", "KeyDecoder", "decode", "encode", "split_aim"]
