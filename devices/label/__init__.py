"""Label printers: ZPL, TSPL, ESC/POS label mode and Brother QL raster, with simulators."""
