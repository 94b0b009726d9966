"""E2SM-KPM against what ranml did not write: kpimon-go's payloads and OSC's own KPM v2 ASN.1.

OSC's ASN.1 (``tests/data/e2-corpus/osc-kpm-v2``) is compiled with pycrate's compiler into an
independent codec: it decodes kpimon-go's action definitions for the expected values, and encodes
the indication headers real nodes send (OSC e2sim's 9-character senderType "simulator" against
SIZE(0..8, ...), FlexRIC's long sender names), which ranml must decode and re-encode identically.
"""

import dataclasses
from pathlib import Path

import pytest
import yaml

pytest.importorskip("asn1tools", reason="E2SM needs asn1tools: pip install 'ranml[ric]'")
pytest.importorskip("pycrate_asn1c.asnproc", reason="the independent codec is pycrate's compiler")

from conftest import compile_with_pycrate
from ranml.protocols.e2sm.kpm import IndicationHeader, KpmCodec

DATA = Path(__file__).parents[2] / "data" / "e2-corpus"
CORPUS = yaml.safe_load((DATA / "kpm.yaml").read_text())


@pytest.fixture(scope="module")
def osc_kpm(tmp_path_factory):
    """OSC's E2SM-KPM v2 module, compiled by pycrate (an engine ranml's codec does not use)."""
    texts = [(DATA / "osc-kpm-v2" / name).read_text() for name in ("e2sm2_0.asn", "kpm2_0.asn")]
    module = compile_with_pycrate(texts, tmp_path_factory.mktemp("osc-kpm") / "osc_kpm_v2.py", "osc_kpm_v2")
    return module.E2SM_KPM_IEs


def osc_decode(osc_kpm, type_name: str, data: bytes):
    obj = getattr(osc_kpm, type_name)
    obj.from_aper(data)
    return obj.get_val()


@pytest.mark.parametrize("entry", CORPUS, ids=[e["id"] for e in CORPUS])
def test_kpimon_payloads_decode_as_osc_s_asn1_says_and_re_encode_identically(entry, osc_kpm):
    data, want, kpm = bytes.fromhex(entry["hex"]), entry["expected"], KpmCodec(2)
    if entry["message"] == "EventTriggerDefinition":
        assert kpm.decode_event_trigger(data) == want["reporting_period_ms"]
        assert kpm.encode_event_trigger(want["reporting_period_ms"]) == data
        return
    if entry["message"] == "IndicationHeader":
        for fast in (True, False):
            codec = KpmCodec(2, fast=fast)
            header = codec.decode_indication_header(data)
            osc = osc_decode(osc_kpm, "E2SM_KPM_IndicationHeader", data)["indicationHeader-formats"][1]
            assert (header.sender_name, header.sender_type, header.vendor_name) == (
                want["sender_name"], want["sender_type"], want["vendor_name"]) == (
                osc["senderName"], osc["senderType"], osc["vendorName"])
            ntp = int.from_bytes(osc["colletStartTime"], "big")
            assert ntp == want["collect_start_ntp"] and header.collect_start == ntp - 2_208_988_800
            assert codec.encode_indication_header(header) == data
        return
    if entry["message"] == "IndicationMessage":
        for fast in (True, False):
            codec = KpmCodec(2, fast=fast)
            message = codec.decode_indication_message(data)
            kind, osc = osc_decode(osc_kpm, "E2SM_KPM_IndicationMessage", data)["indicationMessage-formats"]
            assert message.format == want["format"] == int(kind[-1])
            assert len(message.records) == want["records"] == len(osc["measData"])
            assert [list(r) for r in message.records] == [[v for _, v in d["measRecord"]] for d in osc["measData"]]
            assert {len(r) for r in message.records} == {want["values_per_record"]}
            assert message.granularity_ms == want["granularity_ms"] == osc["granulPeriod"]
            if message.format == 2:
                assert list(message.measurements) == [i["measType"][1] for i in osc["measCondUEidList"]]
                assert len(message.conditions) == want["conditions"]
                assert all(ues == (("gNB-DU-UEID", {"gNB-CU-UE-F1AP-ID": 1}),) for _, ues in message.conditions)
            assert codec.encode_indication_message(message) == data
        return
    action = kpm.decode_action_definition(data)
    osc = osc_decode(osc_kpm, "E2SM_KPM_ActionDefinition", data)
    kind, fmt = osc["actionDefinition-formats"]
    assert (action.format, action.style) == (want["format"], want["style"]) == (int(kind[-1]), osc["ric-Style-Type"])
    items = fmt["measInfoList"] if action.format == 1 else fmt["measCondList"]
    assert list(action.measurements) == [m["measType"][1] for m in items] and len(items) == want["measurements"]
    assert all(isinstance(m, int if want["by"] == "id" else str) for m in action.measurements)
    if "granularity_ms" in want:
        assert action.granularity_ms == want["granularity_ms"] == fmt["granulPeriod"]
    if "cell_id" in want:
        assert (action.cell.plmn.hex(), action.cell.cell_id) == (want["cell_plmn"], want["cell_id"])
    if "first" in want:
        assert (action.measurements[0], action.measurements[-1]) == (want["first"], want["last"])
    assert kpm.encode_action_definition(action) == data  # labels and conditions kept: the same bytes
    rebuilt = kpm.decode_action_definition(kpm.encode_action_definition(dataclasses.replace(action, raw=None)))
    assert rebuilt == action


HEADERS = [
    {"fileFormatversion": "v1", "senderName": "ORAN-E2SIM", "senderType": "simulator", "vendorName": "ORAN"},
    {"senderName": "This is the sender name", "senderType": "This is the sender type",
     "vendorName": "This is the vendor name which is longer than 32 characters"},
    {"fileFormatversion": "version 1.0.0-rc.12", "senderType": "gNB"},
]


@pytest.mark.parametrize("fields", HEADERS, ids=["osc-e2sim", "flexric", "long-version"])
@pytest.mark.parametrize("fast", [True, False], ids=["fast", "reference"])
def test_size_extended_header_strings_from_an_independent_encoder(fields, fast, osc_kpm):
    unix = 1_795_000_000
    header_type = osc_kpm.E2SM_KPM_IndicationHeader
    header_type.set_val({"indicationHeader-formats": ("indicationHeader-Format1", {
        "colletStartTime": (unix + 2_208_988_800).to_bytes(4, "big"), **fields})})
    data = header_type.to_aper()
    kpm = KpmCodec(2, fast=fast)
    got = kpm.decode_indication_header(data)
    assert got == IndicationHeader(unix, fields.get("senderName"), fields.get("senderType"),
                                   fields.get("vendorName"), fields.get("fileFormatversion"))
    assert kpm.encode_indication_header(got) == data


def test_the_kpm_version_is_told_from_a_real_header():
    """Viavi's v2 header (kpimon-go's XER capture) against a v3 one: both published under one OID."""
    from ranml.protocols.e2sm.kpm import detect_version

    viavi = bytes.fromhex(next(e for e in CORPUS if e["id"] == "kpimon-viavi-testfile1-header")["hex"])
    assert detect_version(viavi) == 2 and detect_version(viavi, preferred=2) == 2
    v3 = KpmCodec(3).encode_indication_header(IndicationHeader(1_795_000_000.5, sender_type="simulator"))
    assert detect_version(v3) == 3
    with pytest.raises(Exception, match="not an E2SM-KPM v2 or v3"):
        detect_version(b"\xff\x00")


def test_extended_integers_from_an_independent_encoder(osc_kpm):
    """Values past an extensible INTEGER's root range (measID 70000, fiveQI 300, aRPmax 20), as pycrate writes them."""
    action_type = osc_kpm.E2SM_KPM_ActionDefinition
    action_type.set_val({"ric-Style-Type": 1, "actionDefinition-formats": ("actionDefinition-Format1", {
        "measInfoList": [{"measType": ("measID", 70000),
                          "labelInfoList": [{"measLabel": {"noLabel": "true", "fiveQI": 300, "aRPmax": 20}}]}],
        "granulPeriod": 1000})})
    data = action_type.to_aper()
    kpm = KpmCodec(2)
    action = kpm.decode_action_definition(data)
    assert (action.measurements, action.granularity_ms) == ((70000,), 1000)
    label = action.raw["actionDefinition-formats"][1]["measInfoList"][0]["labelInfoList"][0]["measLabel"]
    assert (label["fiveQI"], label["aRPmax"]) == (300, 20)
    assert kpm.encode_action_definition(action) == data
