"""Serial scales. Mettler Toledo 8217 is the protocol we speak; more go beside it, one module each."""

from devices.scale.mettler_toledo import MettlerToledoScale, ScaleError

PROTOCOLS = {"mettler8217": MettlerToledoScale}

__all__ = ["PROTOCOLS", "MettlerToledoScale", "ScaleError"]
