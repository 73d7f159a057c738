"""Receipt printers: ESC/POS layout, the network driver and a simulator that speaks 9100."""

from devices.printer.driver import NetworkReceiptPrinter, PrinterError
from devices.printer.receipt import render

__all__ = ["NetworkReceiptPrinter", "PrinterError", "render"]
