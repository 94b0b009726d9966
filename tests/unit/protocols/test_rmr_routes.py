import pytest

from ranml.protocols.rmr.routes import RouteError, parse_route_table

SEED = """
# a seed table
newrt|start|t1
rte|12010|e2term:38000
mse|12050|1234|xapp-a:4560,xapp-b:4560;logger:4570   # fan-out + round robin
mse|12050|-1|fallback:4560
rte|12040|%meid
rte|20010,me:4560|a1-only-for-me:4560
rte|20011,someone-else:4560|never:4560
rte|100|me:4560,other:4560
newrt|end|7
meid_map|start
mme_ar|gnb-owner:38000|gnb_001 gnb_002
meid_map|end|1
"""


def test_fan_out_round_robin_and_sub_id_fallback():
    t = parse_route_table(SEED, own_names={"me:4560"})
    assert t.ready and t.table_id == "t1"
    assert t.endpoints(12050, 1234) == ["xapp-a:4560", "logger:4570"]
    assert t.endpoints(12050, 1234) == ["xapp-b:4560", "logger:4570"]
    assert t.endpoints(12050, 1234) == ["xapp-a:4560", "logger:4570"]
    assert t.endpoints(12050, 999) == ["fallback:4560"]  # sub_id → mtype-only fallback
    assert t.endpoints(12010) == ["e2term:38000"]


def test_meid_routing_sender_filter_and_self_pruning():
    t = parse_route_table(SEED, own_names={"me:4560"})
    assert t.endpoints(12040, meid="gnb_002") == ["gnb-owner:38000"]
    with pytest.raises(RouteError, match="meid 'gnb_009' has no owner"):
        t.endpoints(12040, meid="gnb_009")
    assert t.endpoints(20010) == ["a1-only-for-me:4560"]
    with pytest.raises(RouteError, match="no route for mtype 20011"):
        t.endpoints(20011)
    assert t.endpoints(100) == ["other:4560"]  # own name dropped from the group


def test_updates_apply_only_after_a_full_table():
    update = "updatert|start\nrte|30000|new:1\ndel|12010|-1\nupdatert|end\n"
    assert 30000 not in {k[1] for k in parse_route_table(update).entries}
    t = parse_route_table(SEED + update)
    assert t.endpoints(30000) == ["new:1"]
    with pytest.raises(RouteError):
        t.endpoints(12010)


def test_bad_tables_name_the_line():
    with pytest.raises(RouteError, match="line 2: message type 'abc'"):
        parse_route_table("newrt|start\nrte|abc|x:1\nnewrt|end\n")
    with pytest.raises(RouteError, match="newrt\\|end says 5 records"):
        parse_route_table("newrt|start\nrte|1|x:1\nnewrt|end|5\n")
    with pytest.raises(RouteError, match="unknown record 'bogus'"):
        parse_route_table("bogus|1\n")


def test_the_captured_route_manager_table_parses():
    payload = bytes.fromhex("6e657772747c73746172747c70792d7461626c652d310a7274657c31323035307c3132372e302e302e313a"
                            "343537300a6e657772747c656e647c310a")
    t = parse_route_table(payload.decode())
    assert t.table_id == "py-table-1" and t.endpoints(12050) == ["127.0.0.1:4570"]


def test_has_route_does_not_advance_round_robin():
    table = parse_route_table("newrt|start\nrte|12050|a:1,b:1\nmse|12001|-1|%meid\nmeid_map|start\n"
                              "mme_ar|owner:1|gnb_1\nmeid_map|end\nnewrt|end\n")
    assert table.has_route(12050) and table.has_route(12050, sub_id=7)
    assert table.has_route(12001, meid="gnb_1") and not table.has_route(12001, meid="gnb_2")
    assert not table.has_route(999)
    assert table.endpoints(12050) == ["a:1"] and table.has_route(12050) and table.endpoints(12050) == ["b:1"]
