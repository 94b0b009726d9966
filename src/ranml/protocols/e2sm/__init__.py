"""E2 service model codecs (E2SM-KPM now; E2SM-RC next)."""

from ranml.protocols.e2sm.kpm import (
    ActionDefinition,
    E2smError,
    IndicationHeader,
    IndicationMessage,
    KpmCodec,
    RanFunctionDefinition,
)

__all__ = [
    "ActionDefinition",
    "E2smError",
    "IndicationHeader",
    "IndicationMessage",
    "KpmCodec",
    "RanFunctionDefinition",
]
