"""USB barcode scanners (HID keyboards): the pure key decoder lives in keymap, the I/O in driver."""

from devices.scanner.keymap import DecodedScan, KeyDecoder, decode, encode, split_aim

__all__ = ["DecodedScan", "KeyDecoder", "decode", "encode", "split_aim"]
