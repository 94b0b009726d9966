"""Real E2AP PDUs from other implementations decode to the values their sources state and re-encode identically.

The corpus (``tests/data/e2-corpus/e2ap.yaml``) names each PDU's repository, commit, path and line;
its expected values come from Wireshark's E2AP dissector, the source's own assertions or octets
readable in the source, never from ranml. ``test_wireshark_agrees_with_the_corpus`` re-runs
Wireshark (Debian ``tshark``; ``.ci/run`` installs it) on every PDU.
"""

import dataclasses
import ipaddress
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

pytest.importorskip("pycrate_asn1dir", reason="E2AP needs pycrate: pip install 'ranml[ric]'")

from ranml.protocols import e2ap
from ranml.protocols.e2sm.rc import GnbDuUeId, GnbUeId, RcCodec, SliceQuota

CORPUS = yaml.safe_load((Path(__file__).parents[2] / "data" / "e2-corpus" / "e2ap.yaml").read_text())
IDS = [e["id"] for e in CORPUS]
RC = RcCodec()


def pdu(entry: dict) -> bytes:
    return bytes.fromhex(entry["hex"])


def check_common(m, want: dict) -> None:
    for key in ("requestor_id", "instance_id", "ran_function_id", "transaction_id", "ack_requested", "node_type",
                "gnb_id", "gnb_id_bits", "amf_name", "ric_id", "name", "procedure_code"):
        if key in want:
            assert getattr(m, key) == want[key], key
    for key in ("plmn", "ric_plmn", "event_trigger"):
        if key in want:
            assert getattr(m, key).hex() == want[key], key


@pytest.mark.parametrize("entry", CORPUS, ids=IDS)
def test_each_pdu_decodes_to_the_values_its_source_states(entry):
    m = e2ap.decode(pdu(entry))
    want = entry["expected"]
    assert type(m).__name__ == entry["message"]
    check_common(m, want)
    if isinstance(m, e2ap.E2SetupRequest):
        assert [f[0] for f in m.ran_functions] == want["ran_function_ids"]
        assert [f[3] for f in m.ran_functions] == want["ran_function_oids"]
        (component,) = m.components
        assert component.interface == "ng" and component.component_id == {"amf-name": want["amf_name"]}
        assert component.request_part.decode() == want["component_request_part"]
        assert component.response_part.decode() == want["component_response_part"]
    if isinstance(m, e2ap.E2SetupResponse):
        assert [list(a) for a in m.accepted] == want["accepted"]
    if isinstance(m, e2ap.SubscriptionRequest):
        assert [a for a, _ in m.actions] == want["action_ids"] and m.action_types == ()  # all report
        assert [d.hex() for _, d in m.actions] == want["action_definitions"]
        assert [list(s) for s in m.subsequent] == want["subsequent"]
    if isinstance(m, e2ap.Procedure):
        (item,) = m.ie("E2connectionUpdate-List")
        tnl = item["value"][1]
        assert str(ipaddress.IPv4Address(tnl["tnlInformation"]["tnlAddress"][0])) == want["tnl_address"]
        assert tnl["tnlInformation"]["tnlPort"][0] == want["tnl_port"] and tnl["tnlUsage"] == want["tnl_usage"]
    if isinstance(m, e2ap.ControlRequest):
        head = RC.decode_control_header(m.header)
        assert (head.style, head.action) == (want["rc_style"], want["rc_action"])
        if "slice_quotas" in want:
            ue, quotas = RC.decode_slice_quota(m.header, m.message)
            assert ue == GnbDuUeId(want["ue"]["gNB-DU-UEID"])
            assert [dataclasses.asdict(q) | {"plmn": q.plmn.hex()} for q in quotas] == want["slice_quotas"]
        else:
            ho = RC.decode_handover(m.header, m.message)
            assert isinstance(ho.ue, GnbUeId) and ho.ue.amf_ue_ngap_id == want["ue"]["amf_ue_ngap_id"]
            assert ho.ue.guami.plmn.hex() == want["ue"]["guami_plmn"]
            assert list(ho.ue.cu_f1ap_ids) == want["ue"]["cu_f1ap_ids"]
            assert (ho.target.plmn.hex(), ho.target.cell_id) == (want["target_plmn"], want["target_cell_id"])


@pytest.mark.parametrize("entry", CORPUS, ids=IDS)
def test_each_pdu_re_encodes_to_identical_bytes(entry):
    data = pdu(entry)
    m = e2ap.decode(data)
    assert e2ap.encode(m) == data
    # built again from the typed fields alone, it decodes to the same message
    assert e2ap.decode(e2ap.encode(dataclasses.replace(m, raw=None))) == m


def test_a_changed_message_is_encoded_from_its_fields_not_from_the_stale_original():
    entry = next(e for e in CORPUS if e["id"] == "srsran-subscription-delete-request")
    m = e2ap.decode(pdu(entry))
    changed = dataclasses.replace(m, instance_id=22)
    assert e2ap.decode(e2ap.encode(changed)).instance_id == 22


def test_rc_commands_built_from_typed_values_give_srsran_s_bytes():
    slicing = e2ap.decode(pdu(next(e for e in CORPUS if e["id"] == "srsran-rc-slice-prb-quota")))
    header, message = RC.encode_slice_quota(GnbDuUeId(0), (SliceQuota(bytes.fromhex("21f354"), 22, 33, 10, 30, 100),))
    assert (header, message) == (slicing.header, slicing.message)


def wireshark(data: bytes, tmp_path: Path) -> dict[str, list[str]]:
    text, pcap = tmp_path / "pdu.txt", tmp_path / "pdu.pcap"
    text.write_text("0000 " + " ".join(f"{b:02x}" for b in data) + "\n")
    subprocess.run(["text2pcap", "-q", "-l", "147", str(text), str(pcap)], check=True, capture_output=True)
    out = subprocess.run(["tshark", "-r", str(pcap), "-T", "json", "-o",
                          'uat:user_dlts:"User 0 (DLT=147)","e2ap","0","","0",""'],
                         check=True, capture_output=True, text=True).stdout
    fields: dict[str, list[str]] = {}

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value) if isinstance(value, dict | list) else fields.setdefault(key, []).append(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(out)[0]["_source"]["layers"]["e2ap"])
    return fields


@pytest.mark.skipif(shutil.which("tshark") is None or shutil.which("text2pcap") is None,
                    reason="Wireshark's tshark/text2pcap are not installed (apt-get install tshark; .ci/run does)")
@pytest.mark.parametrize("entry", CORPUS, ids=IDS)
def test_wireshark_agrees_with_the_corpus(entry, tmp_path):
    """The fields Wireshark 4.0's E2AP dissector decodes match the expected values written in the corpus."""
    got, want = wireshark(pdu(entry), tmp_path), entry["expected"]
    for ours, theirs in (("requestor_id", "e2ap.ricRequestorID"), ("instance_id", "e2ap.ricInstanceID"),
                         ("procedure_code", "e2ap.procedureCode")):
        if ours in want:
            assert got[theirs][0] == str(want[ours]), ours
    if "ran_function_id" in want:
        assert got["e2ap.RANfunctionID"][0] == str(want["ran_function_id"])
    if "plmn" in want:
        assert got["e2ap.plmn_id"][0].replace(":", "") == want["plmn"]
    if "ric_plmn" in want:
        assert got["e2ap.pLMN_Identity"][0].replace(":", "") == want["ric_plmn"]
        assert int(got["e2ap.ric_ID"][0].replace(":", ""), 16) >> 4 == want["ric_id"]
    if "subsequent" in want:
        assert got["e2ap.ricTimeToWait"] == ["4"] and got["e2ap.ricSubsequentActionType"] == ["0"]  # w20ms, continue
    if entry["message"] == "ControlRequest":
        message = e2ap.decode(pdu(entry))
        assert got["e2ap.RICcontrolHeader"][0].replace(":", "") == message.header.hex()
        assert got["e2ap.RICcontrolMessage"][0].replace(":", "") == message.message.hex()
