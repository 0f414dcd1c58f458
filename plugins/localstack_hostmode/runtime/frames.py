"""The frame protocol between the executor (lambda_runtime/process.py) and the runtime child.

Stdlib only: both sides import this module, the child under a private package name (see
entrypoint.py), so the encoding is written once.

Frames (both directions): 1 byte kind, 4 bytes big-endian body length, body.
  parent -> child  b"V" invoke:   4-byte header length, header JSON, event payload bytes
                   b"C" claim (spare mode only, first frame): JSON {"env", "cwd", "config"}
  child -> parent  b"P" preloaded (spare mode, before the claim): JSON {"env", "modules"}
                   b"R" ready     (init done)
                   b"I" init error (body: error JSON, AWS shape); the child then exits
                   b"O" result ok / b"E" result error: 8 bytes max RSS (KiB), then the payload
                   b"L" result too large: 8 bytes max RSS (KiB), 8 bytes result size
"""

import json
import os

KIND_INVOKE = b"V"
KIND_CLAIM = b"C"
KIND_PRELOADED = b"P"
KIND_READY = b"R"
KIND_INIT_ERROR = b"I"
KIND_OK = b"O"
KIND_ERROR = b"E"
KIND_TOO_LARGE = b"L"  # result over the response limit: only its size travels (8 bytes)
FRAME_HEADER_SIZE = 5
LENGTH_SIZE = 4
RSS_SIZE = 8


def encode(kind, *parts):
    """One frame: kind, body length, the body's parts."""
    length = sum(len(p) for p in parts)
    return b"".join((kind, length.to_bytes(LENGTH_SIZE, "big"), *parts))


def write_frame(fd, kind, *parts):
    view = memoryview(encode(kind, *parts))
    while view:
        written = os.write(fd, view)
        view = view[written:]


def body_length(header):
    """The body length announced by a frame header (FRAME_HEADER_SIZE bytes)."""
    return int.from_bytes(header[1:FRAME_HEADER_SIZE], "big")


def read_exact(reader, n):
    data = reader.read(n)
    if data is None or len(data) < n:
        raise EOFError
    return data


def read_frame(reader):
    """(kind, body) of the next frame on a blocking reader; EOFError when the writer is gone."""
    header = read_exact(reader, FRAME_HEADER_SIZE)
    return header[:1], read_exact(reader, body_length(header))


def encode_invoke(header, event):
    """The invoke frame: the header dict (JSON) and the event bytes."""
    head = json.dumps(header).encode()
    return encode(KIND_INVOKE, len(head).to_bytes(LENGTH_SIZE, "big"), head, event)


def decode_invoke(body):
    """An invoke frame's body -> (header dict, event bytes)."""
    header_len = int.from_bytes(body[:LENGTH_SIZE], "big")
    header = json.loads(body[LENGTH_SIZE : LENGTH_SIZE + header_len])
    return header, body[LENGTH_SIZE + header_len :]


def encode_claim(env, cwd, config):
    body = json.dumps({"env": env, "cwd": cwd, "config": config}).encode()
    return encode(KIND_CLAIM, body)


def result_parts(max_rss_kib, payload):
    """The body parts of a result frame (ok, error or too large)."""
    return max_rss_kib.to_bytes(RSS_SIZE, "big"), payload


def split_result(body):
    """A result frame's body -> (max RSS in KiB, payload)."""
    return int.from_bytes(body[:RSS_SIZE], "big"), body[RSS_SIZE:]
