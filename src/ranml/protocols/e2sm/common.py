"""E2SM common information elements used by more than one service model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ranml.protocols.e2sm._asn import E2smError

__all__ = ["NrCgi", "enumerated_ue_cell", "enumerated_ue_id", "plmn_from_text", "plmn_to_text"]


def plmn_from_text(mcc_mnc: str) -> bytes:
    """PLMN identity octets (TS 38.413 BCD) from ``"00101"`` (MCC+MNC, 2- or 3-digit MNC)."""
    if not mcc_mnc.isdigit() or len(mcc_mnc) not in (5, 6):
        raise E2smError(f"PLMN {mcc_mnc!r} must be MCC+MNC digits, e.g. '00101' or '310410'")
    mcc, mnc = mcc_mnc[:3], mcc_mnc[3:]
    d = [int(c) for c in mcc] + [int(c) for c in mnc]
    mnc3 = d[5] if len(mnc) == 3 else 0xF
    return bytes([(d[1] << 4) | d[0], (mnc3 << 4) | d[2], (d[4] << 4) | d[3]])


def plmn_to_text(plmn: bytes) -> str:
    """Inverse of :func:`plmn_from_text`."""
    if len(plmn) != 3:
        raise E2smError(f"a PLMN identity has 3 octets, not {len(plmn)}")
    digits = [plmn[0] & 0xF, plmn[0] >> 4, plmn[1] & 0xF, plmn[2] & 0xF, plmn[2] >> 4]
    mnc3 = plmn[1] >> 4
    text = "".join(str(x) for x in digits)
    return text if mnc3 == 0xF else text + str(mnc3)


@dataclass(frozen=True)
class NrCgi:
    """NR cell global identity: PLMN identity (3 octets) + 36-bit NR cell identity."""

    plmn: bytes
    cell_id: int

    def __post_init__(self) -> None:
        if len(self.plmn) != 3:
            raise E2smError(f"NrCgi.plmn needs 3 octets, got {len(self.plmn)}")
        if not 0 <= self.cell_id < 2**36:
            raise E2smError(f"NrCgi.cell_id must fit 36 bits (0..{2**36 - 1}), got {self.cell_id}")

    def to_asn(self) -> dict[str, Any]:
        """The asn1tools value of an NR-CGI."""
        return {"pLMNIdentity": self.plmn, "nRCellIdentity": ((self.cell_id << 4).to_bytes(5, "big"), 36)}

    @classmethod
    def from_asn(cls, value: dict[str, Any]) -> NrCgi:
        """Parse the asn1tools value of an NR-CGI."""
        bits, _ = value["nRCellIdentity"]
        return cls(bytes(value["pLMNIdentity"]), int.from_bytes(bits, "big") >> 4)

    def text(self) -> str:
        """``"<plmn hex>:<cell id hex>"`` (a stable key for logs and JSON)."""
        return f"{self.plmn.hex()}:{self.cell_id:09x}"


UE_BITS = 14  # UEs per cell in the enumerated-UE convention: 0..16383


def enumerated_ue_id(cell: NrCgi, k: int) -> int:
    """AMF UE NGAP id of the ``k``-th connected UE of ``cell`` in the enumerated-UE convention.

    A simulator without UE-level reports (e2sim) numbers the connected UEs of a cell
    ``0..RRC.ConnMean-1`` and derives their ids from the cell identity:
    ``gNB id (22 bits) | cell number (4 bits) | k (14 bits)`` = 40 bits, the size of an AMF UE
    NGAP id. With a real RAN, UE ids come from UE-level reports (KPM style 5, RC reports) instead.
    """
    if not 0 <= k < 1 << UE_BITS:
        raise E2smError(f"UE index {k} is outside 0..{(1 << UE_BITS) - 1}")
    gnb, local = cell.cell_id >> 14, cell.cell_id & 0x3FFF
    if local >= 16:
        raise E2smError(f"cell number {local} of {cell.text()} does not fit the convention's 4 bits")
    return (gnb & 0x3FFFFF) << 18 | local << UE_BITS | k


def enumerated_ue_cell(ue_id: int) -> tuple[int, int, int]:
    """``(gNB id, cell number, k)`` of an id made by :func:`enumerated_ue_id`."""
    return ue_id >> 18, (ue_id >> UE_BITS) & 0xF, ue_id & ((1 << UE_BITS) - 1)
