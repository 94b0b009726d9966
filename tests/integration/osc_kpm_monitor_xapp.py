"""A KPM monitor written the OSC way: ricxappframe 3.2.2's ``RMRXapp``, unmodified, on librmr.

Run by ``test_ricxappframe_xapp.py`` as its own process, configured like an OSC xApp pod (RMR_SEED_RT,
RMR_RTG_SVC, RMR_CTL_PORT, RMR_SRC_ID in the environment). It sends the given E2AP subscription
requests (12010) with their node's MEID, takes the responses (12011) and indications (12050) in
``register_callback`` handlers, deletes the subscriptions (12020 -> 12021) once it has enough
indications, and writes what it received as JSON. The framework's own health-check handler answers
RIC_HEALTH_CHECK_REQ (100). ``RMRXapp.rmr_send`` cannot set a MEID, so the requests are built with
the binding's ``rmr_alloc_msg(meid=...)`` and sent with ``rmr_send_msg``, as OSC's Python xApps do.

usage: osc_kpm_monitor_xapp.py PORT REQUESTS_JSON OUT_JSON WANT_INDICATIONS
"""

import json
import os
import sys
import threading
import time

from ricxappframe.rmr import rmr
from ricxappframe.xapp_frame import RMRXapp

port, requests_file, out_file, want = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
with open(requests_file) as f:
    requests = json.load(f)
got = {"responses": [], "indications": [], "delete_responses": [], "other": []}
enough, deleted = threading.Event(), threading.Event()


def record(kind):
    def handler(xapp, summary, sbuf):
        got[kind].append({"mtype": summary[rmr.RMR_MS_MSG_TYPE], "sub_id": summary[rmr.RMR_MS_SUB_ID],
                          "meid": (summary[rmr.RMR_MS_MEID] or b"").decode(),
                          "payload": summary[rmr.RMR_MS_PAYLOAD].hex()})
        xapp.rmr_free(sbuf)
        if len(got["indications"]) >= want:
            enough.set()
        if len(got["delete_responses"]) >= len(requests):
            deleted.set()
    return handler


def send(xapp, mtype, payload, meid, sub_id):
    sbuf = rmr.rmr_alloc_msg(xapp._mrc, len(payload), payload=payload, gen_transaction_id=True, mtype=mtype,
                             meid=meid.encode(), sub_id=sub_id)
    for _ in range(100):
        sbuf = rmr.rmr_send_msg(xapp._mrc, sbuf)
        if sbuf.contents.state == 0:
            break
        time.sleep(0.01)
    state = sbuf.contents.state
    rmr.rmr_free_msg(sbuf)
    return state


xapp = RMRXapp(record("other"), rmr_port=port, use_fake_sdl=True)
xapp.register_callback(record("responses"), 12011)
xapp.register_callback(record("indications"), 12050)
xapp.register_callback(record("delete_responses"), 12021)
xapp.run(thread=True, rmr_timeout=1)
print("OSC-XAPP-READY", flush=True)
states = [send(xapp, 12010, bytes.fromhex(r["subscribe"]), r["meid"], r["instance"]) for r in requests]
ok = enough.wait(60)
del_states = [send(xapp, 12020, bytes.fromhex(r["delete"]), r["meid"], r["instance"]) for r in requests]
deleted.wait(20)
with open(out_file, "w") as f:
    json.dump({"send_states": states, "delete_states": del_states, "enough": ok, **got}, f)
xapp.stop()
os._exit(0)  # the framework's RMR loop thread does not end by itself
