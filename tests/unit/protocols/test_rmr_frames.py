"""Every frame captured from a real librmr 4.9.4 parses, and our encoder writes the same fields.

The captures (tests/data/rmr-sample-frames.hex, from the project's RMR fact sheet) hold raw bytes
and an annotated field table per frame; both are read here and checked against each other.
"""

import contextlib
import re
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ranml.protocols.rmr import CALL_FLAG, FrameReader, RmrFrameError, RmrMessage, decode, encode

CAPTURES = Path(__file__).resolve().parents[2] / "data" / "rmr-sample-frames.hex"


def load_frames():
    frames, current, mode = [], None, None
    for line in CAPTURES.read_text().splitlines():
        if line.startswith("## frame"):
            current = {"title": line[3:], "raw": bytearray(), "fields": {}}
            frames.append(current)
        elif line.startswith("### raw"):
            mode = "raw"
        elif line.startswith("### annotated"):
            mode = "ann"
        elif current is not None and line.strip() and not line.startswith("#"):
            if mode == "raw":
                _, hexes = line.split(":", 1)
                current["raw"] += bytes.fromhex(hexes.replace(" ", ""))
            elif mode == "ann":
                m = re.match(r"\s*(\d+)\s+\+(\d+)\s+(\S+)\s+([0-9a-f]+)", line)
                if m:
                    current["fields"][m.group(3)] = (int(m.group(1)), int(m.group(2)), bytes.fromhex(m.group(4)))
    return frames


FRAMES = load_frames()


def test_all_seven_captures_loaded():
    assert len(FRAMES) == 7
    for f in FRAMES:
        assert len(f["raw"]) == int(re.search(r"\((\d+) bytes\)", f["title"]).group(1))


@pytest.mark.parametrize("frame", FRAMES, ids=[f["title"][:40] for f in FRAMES])
def test_capture_parses_to_the_annotated_values(frame):
    raw, fields = bytes(frame["raw"]), frame["fields"]
    msg = decode(raw)

    def be(name):
        return struct.unpack(">i", fields[name][2])[0]

    assert msg.mtype == be("hdr.mtype")
    assert len(msg.payload) == be("hdr.plen")
    assert msg.sub_id == be("hdr.sub_id")
    assert msg.flags == struct.unpack("<i", fields["hdr.flags"][2])[0]
    assert msg.xid == fields["hdr.xid"][2]
    assert msg.src == fields["hdr.src"][2].split(b"\0")[0].decode()
    assert msg.meid == fields["hdr.meid"][2].split(b"\0")[0].decode()
    assert msg.srcip == fields["hdr.srcip"][2].split(b"\0")[0].decode()
    assert msg.d1 == fields["d1"][2]
    assert msg.payload == fields["payload"][2]


@pytest.mark.parametrize("frame", FRAMES, ids=[f["title"][:40] for f in FRAMES])
def test_our_encoding_writes_the_fields_librmr_writes(frame):
    raw = bytes(frame["raw"])
    msg = decode(raw)
    ours = encode(msg)
    assert len(ours) == len(raw)
    assert ours[:13] == raw[:13]  # both lengths, the marker and the zeroed bytes
    # header and sections: every byte except stale text after a NUL and uninitialised d1[1..3]
    for name, (offset, size, value) in frame["fields"].items():
        if name.startswith("tp.unused") or name == "hdr.pad":
            continue
        got = ours[offset : offset + size]
        if name in ("hdr.src", "hdr.meid", "hdr.srcip"):
            assert got.split(b"\0")[0] == value.split(b"\0")[0], name
        elif name == "d1":
            assert got[0] == value[0], name
        else:
            assert got == value, name


def test_call_frame_and_rts_reply_recipe():
    call = next(f for f in FRAMES if decode(bytes(f["raw"])).is_call)
    req = decode(bytes(call["raw"]))
    assert req.flags & CALL_FLAG and req.call_id == 1
    reply = RmrMessage(mtype=req.mtype + 1, payload=b"OK", xid=req.xid, d1=req.d1, sub_id=req.sub_id,
                       meid=req.meid, src="py:4570", srcip="127.0.0.1:4570", flags=req.flags & ~CALL_FLAG)
    back = decode(encode(reply))
    assert back.xid == req.xid and back.call_id == 1 and not back.is_call


def test_stream_reader_handles_any_chunking_and_poisoning():
    data = b"".join(bytes(f["raw"]) for f in FRAMES)
    reader = FrameReader()
    got = []
    for i in range(0, len(data), 7):
        got += reader.feed(data[i : i + 7])
    assert [m.mtype for m in got] == [decode(bytes(f["raw"])).mtype for f in FRAMES]
    assert reader.buffered == 0
    bad = FrameReader()
    with pytest.raises(RmrFrameError, match="implausible frame length"):
        bad.feed(struct.pack("<I", 0xFFFFFFF0) + struct.pack(">I", 0xFFFFFFF0) + b"$" + b"\0" * 50)
    assert bad.poisoned
    with pytest.raises(RmrFrameError, match="close the connection"):
        bad.feed(b"more")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_decoding_garbage_never_crashes(blob):
    with contextlib.suppress(RmrFrameError):
        decode(blob)
    reader = FrameReader()
    try:
        reader.feed(blob)
    except RmrFrameError:
        assert reader.poisoned


@settings(max_examples=200, deadline=None)
@given(mtype=st.integers(-1, 2**31 - 1), payload=st.binary(max_size=512), sub_id=st.integers(-(2**31), 2**31 - 1),
       xid=st.binary(max_size=32), meid=st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=31))
def test_roundtrip(mtype, payload, sub_id, xid, meid):
    msg = RmrMessage(mtype=mtype, payload=payload, sub_id=sub_id, xid=xid, meid=meid, src="h:1", srcip="1.2.3.4:1")
    back = decode(encode(msg))
    assert (back.mtype, back.payload, back.sub_id, back.meid) == (mtype, payload, sub_id, meid)
    assert back.xid == xid.ljust(32, b"\0")


@settings(max_examples=150, deadline=None)
@given(chunks=st.lists(st.integers(1, 900), min_size=1, max_size=40), bad_at=st.integers(0, 6),
       payloads=st.lists(st.binary(max_size=300), min_size=1, max_size=6))
def test_a_stream_decoded_in_place_gives_each_frame_s_own_decode(chunks, bad_at, payloads):
    """Frames cut out of the read buffer in place equal the frames decoded one by one; a frame with
    impossible section lengths is counted as malformed and the ones after it still arrive."""
    frames = [encode(RmrMessage(12050 + i, p, sub_id=i, meid=f"gnb_{i}", src="h:1", srcip="1.2.3.4:1"))
              for i, p in enumerate(payloads)]
    bad = bytearray(frames[0])
    struct.pack_into(">i", bad, 50 + 4, len(bad))  # plen past the end of the frame
    stream_frames = [*frames[:bad_at], bytes(bad), *frames[bad_at:]]
    data = b"".join(stream_frames)
    reader, got, pos = FrameReader(), [], 0
    for size in chunks * (len(data) // max(sum(chunks), 1) + 1):
        if pos >= len(data):
            break
        got += reader.feed(data[pos : pos + size])
        pos += size
    got += reader.feed(data[pos:])
    assert [(m.mtype, m.payload, m.sub_id, m.meid, m.src, m.srcip) for m in got] == [
        (d.mtype, d.payload, d.sub_id, d.meid, d.src, d.srcip) for d in map(decode, frames)]
    assert reader.malformed == 1 and reader.buffered == 0
