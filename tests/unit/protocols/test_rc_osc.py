"""E2SM-RC against OSC's own RC ASN.1 (ric-app-rc), compiled by pycrate: controls, policies and inserts.

ranml's RC module and codec (asn1tools) share nothing with this codec; each side decodes what the
other encodes, and what pycrate writes re-encodes identically through ranml.
"""

from pathlib import Path

import pytest

pytest.importorskip("asn1tools", reason="E2SM needs asn1tools: pip install 'ranml[ric]'")
pytest.importorskip("pycrate_asn1c.asnproc", reason="the independent codec is pycrate's compiler")

from conftest import compile_with_pycrate
from ranml.protocols.e2sm.common import NrCgi
from ranml.protocols.e2sm.rc import (
    GnbDuUeId,
    GnbUeId,
    Guami,
    HandoverControl,
    PolicyAction,
    RanParameter,
    RcActionDefinition,
    RcCodec,
    SliceQuota,
)

DATA = Path(__file__).parents[2] / "data" / "e2-corpus" / "osc-rc-v2"
RC = RcCodec()
QUOTA = SliceQuota(bytes.fromhex("21f354"), 22, 33, 10, 30, 100)


@pytest.fixture(scope="module")
def osc_rc(tmp_path_factory):
    texts = [(DATA / name).read_text().replace("2^32", "4294967296")  # pycrate's parser does not read 2^32
             for name in ("e2sm-common.asn", "e2sm-rc-2.0.asn")]
    module = compile_with_pycrate(texts, tmp_path_factory.mktemp("osc-rc") / "osc_rc_v2.py", "osc_rc_v2")
    return module.E2SM_RC_IEs


def osc(osc_rc, name, data=None, value=None):
    obj = getattr(osc_rc, name)
    if data is not None:
        obj.from_aper(data)
        return obj.get_val()
    obj.set_val(value)
    return obj.to_aper()


def test_osc_decodes_ranml_s_handover_and_slice_quota_controls(osc_rc):
    plmn = bytes.fromhex("00f110")
    ho = HandoverControl(GnbUeId(7, Guami(plmn, 1, 2, 3), (1,)), NrCgi(plmn, 6577))
    header, message = RC.encode_handover(ho)
    _, head = osc(osc_rc, "E2SM_RC_ControlHeader", header)["ric-controlHeader-formats"]
    assert (head["ric-Style-Type"], head["ric-ControlAction-ID"]) == (3, 1)
    assert head["ueID"][0] == "gNB-UEID" and head["ueID"][1]["amf-UE-NGAP-ID"] == 7
    _, body = osc(osc_rc, "E2SM_RC_ControlMessage", message)["ric-controlMessage-formats"]
    assert [p["ranParameter-ID"] for p in body["ranP-List"]] == [1]
    header, message = RC.encode_slice_quota(GnbDuUeId(5), (QUOTA,))
    _, head = osc(osc_rc, "E2SM_RC_ControlHeader", header)["ric-controlHeader-formats"]
    assert (head["ric-Style-Type"], head["ric-ControlAction-ID"], head["ueID"]) == (
        2, 6, ("gNB-DU-UEID", {"gNB-CU-UE-F1AP-ID": 5}))
    _, body = osc(osc_rc, "E2SM_RC_ControlMessage", message)["ric-controlMessage-formats"]
    group = body["ranP-List"][0]["ranParameter-valueType"][1]["ranParameter-List"]["list-of-ranParameter"][0]
    ratios = {i["ranParameter-ID"]: i["ranParameter-valueType"][1]["ranParameter-value"]
              for i in group["sequence-of-ranParameters"][0]["ranParameter-valueType"][1]["ranParameter-Structure"][
                  "sequence-of-ranParameters"] if i["ranParameter-ID"] > 10}
    assert ratios == {11: ("valueInt", 10), 12: ("valueInt", 30), 13: ("valueInt", 100)}


def test_a_slice_quota_policy_is_read_by_osc(osc_rc):
    data = RC.encode_action_definition(RC.slice_quota_policy((QUOTA,)))
    value = osc(osc_rc, "E2SM_RC_ActionDefinition", data)
    kind, fmt = value["ric-actionDefinition-formats"]
    assert (value["ric-Style-Type"], kind) == (2, "actionDefinition-Format2")
    (item,) = fmt["ric-PolicyConditions-List"]
    assert item["ric-PolicyAction"]["ric-PolicyAction-ID"] == 6
    assert [p["ranParameter-ID"] for p in item["ric-PolicyAction"]["ranParameters-List"]] == [1]
    assert RC.decode_action_definition(data) == RC.slice_quota_policy((QUOTA,))


CONDITION = [{"ranParameter-ID": 5, "ranParameter-Type": ("ranP-Choice-ElementFalse", {
    "ranParameter-TestCondition": ("ranP-Choice-comparison", "greaterthan"),
    "ranParameter-Value": ("valueInt", 80), "logicalOR": "false"})}]


def test_a_conditional_policy_written_by_osc_s_asn1_decodes_and_re_encodes_identically(osc_rc):
    data = osc(osc_rc, "E2SM_RC_ActionDefinition", value={"ric-Style-Type": 2, "ric-actionDefinition-formats": (
        "actionDefinition-Format2", {"ric-PolicyConditions-List": [{
            "ric-PolicyAction": {"ric-PolicyAction-ID": 6, "ranParameters-List": [
                {"ranParameter-ID": 11, "ranParameter-valueType": ("ranP-Choice-ElementFalse",
                                                                   {"ranParameter-value": ("valueInt", 20)})}],
                "ric-PolicyDecision": "accept"},
            "ric-PolicyConditionDefinition": CONDITION}]})})
    action = RC.decode_action_definition(data)
    assert (action.style, action.format) == (2, 2)
    (policy,) = action.policies
    assert (policy.action_id, policy.decision, policy.parameters) == (6, "accept", (RanParameter(11, 20),))
    assert policy.conditions == CONDITION
    assert RC.encode_action_definition(action) == data
    rebuilt = RcActionDefinition(2, 2, (PolicyAction(6, (RanParameter(11, 20),), "accept", CONDITION),))
    assert RC.encode_action_definition(rebuilt) == data


def test_an_insert_subscription_both_ways(osc_rc):
    data = osc(osc_rc, "E2SM_RC_ActionDefinition", value={"ric-Style-Type": 3, "ric-actionDefinition-formats": (
        "actionDefinition-Format3", {"ric-InsertIndication-ID": 1,
                                     "ranP-InsertIndication-List": [{"ranParameter-ID": 1}, {"ranParameter-ID": 4}],
                                     "ueID": ("gNB-DU-UEID", {"gNB-CU-UE-F1AP-ID": 9})})})
    action = RC.decode_action_definition(data)
    assert action == RcActionDefinition(3, 3, indication_id=1, parameter_ids=(1, 4), ue=GnbDuUeId(9))
    assert RC.encode_action_definition(action) == data
    assert RC.encode_action_definition(RcActionDefinition(3, 3, indication_id=1, parameter_ids=(1, 4),
                                                          ue=GnbDuUeId(9))) == data


def test_bad_rc_action_definitions_are_refused_naming_the_field():
    from ranml.protocols.e2sm import E2smError

    with pytest.raises(E2smError, match="at least one PolicyAction"):
        RC.encode_action_definition(RcActionDefinition(2, 2))
    with pytest.raises(E2smError, match="indication_id and parameter_ids"):
        RC.encode_action_definition(RcActionDefinition(3, 3))
    with pytest.raises(E2smError, match="format 1"):
        RC.encode_action_definition(RcActionDefinition(1, 1))
