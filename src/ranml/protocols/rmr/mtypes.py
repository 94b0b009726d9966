"""RMR message type numbers used by ranml (values from RIC_message_types.h, RMR 4.9)."""

from __future__ import annotations

__all__ = ["MTYPES", "mtype_name"]

MTYPES: dict[str, int] = {
    "RMRRM_TABLE_DATA": 20,
    "RMRRM_REQ_TABLE": 21,
    "RMRRM_TABLE_STATE": 22,
    "RIC_HEALTH_CHECK_REQ": 100,
    "RIC_HEALTH_CHECK_RESP": 101,
    "RIC_E2_SETUP_REQ": 12001,
    "RIC_E2_SETUP_RESP": 12002,
    "RIC_E2_SETUP_FAILURE": 12003,
    "RIC_ERROR_INDICATION": 12007,
    "RIC_SUB_REQ": 12010,
    "RIC_SUB_RESP": 12011,
    "RIC_SUB_FAILURE": 12012,
    "RIC_SUB_DEL_REQ": 12020,
    "RIC_SUB_DEL_RESP": 12021,
    "RIC_SUB_DEL_FAILURE": 12022,
    "RIC_CONTROL_REQ": 12040,
    "RIC_CONTROL_ACK": 12041,
    "RIC_CONTROL_FAILURE": 12042,
    "RIC_INDICATION": 12050,
    "A1_POLICY_REQ": 20010,
    "A1_POLICY_RESP": 20011,
    "A1_POLICY_QUERY": 20012,
}

_BY_VALUE = {v: k for k, v in MTYPES.items()}


def mtype_name(mtype: int) -> str:
    """Symbolic name of a message type, or its number as text."""
    return _BY_VALUE.get(mtype, str(mtype))
