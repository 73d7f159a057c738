"""Receipt printers: ESC/POS layout, one driver over four transports (network, serial, usblp,
libusb), the DLE EOT status decoder, and simulators that speak the same bytes."""
