"""Serial scales: one protocol module each, all driven by devices/scale/serial_scale.py."""

from devices.scale.adam import AdamAzExtra
from devices.scale.cas import CasPd2
from devices.scale.dialog import Dialog
from devices.scale.mettler_toledo import MettlerToledo8217, MettlerToledoScale
from devices.scale.nci import NCI
from devices.scale.protocol import ProtocolError, ScaleError, ScaleProtocol
from devices.scale.serial_scale import SerialScale

# Config name -> protocol class; the agent runs SerialScale(port, PROTOCOLS[name](), ...).
PROTOCOLS: dict[str, type[ScaleProtocol]] = {
    "mettler8217": MettlerToledo8217,
    "nci": NCI,
    "dialog": Dialog,
    "cas_pd2": CasPd2,
    "adam": AdamAzExtra,
}

__all__ = [
    "NCI",
    "AdamAzExtra",
    "CasPd2",
    "Dialog",
    "PROTOCOLS",
    "MettlerToledo8217",
    "MettlerToledoScale",
    "ProtocolError",
    "ScaleError",
    "ScaleProtocol",
    "SerialScale",
]
