"""Hand-made git smart-HTTP requests, for the cases the real client never sends."""

from __future__ import annotations

import gzip as gzip_module
import hashlib
from io import BytesIO

import httpx
from dulwich.object_format import DEFAULT_OBJECT_FORMAT
from dulwich.objects import ShaFile
from dulwich.pack import write_pack_objects

ZERO = "0" * 40
FLUSH = b"0000"


def pkt(data: str | bytes) -> bytes:
    raw = data.encode() if isinstance(data, str) else data
    return b"%04x" % (len(raw) + 4) + raw


def empty_pack() -> bytes:
    header = b"PACK" + (2).to_bytes(4, "big") + (0).to_bytes(4, "big")
    return header + hashlib.sha1(header).digest()


def pack_of(*objects: ShaFile) -> bytes:
    out = BytesIO()
    write_pack_objects(out.write, list(objects), DEFAULT_OBJECT_FORMAT)
    return out.getvalue()


def receive_pack_body(commands: list[tuple[str, str, str]], pack: bytes | None) -> bytes:
    """Ref update commands ("old new ref") with report-status, a flush, then the pack."""
    lines = [f"{old} {new} {ref}" for old, new, ref in commands]
    first = pkt(f"{lines[0]}\0report-status\n")
    return first + b"".join(pkt(line + "\n") for line in lines[1:]) + FLUSH + (pack or b"")


def upload_pack_body(wants: list[str]) -> bytes:
    """A v0 fetch of ``wants`` with no haves."""
    first = pkt(f"want {wants[0]} ofs-delta side-band-64k thin-pack\n")
    rest = b"".join(pkt(f"want {sha}\n") for sha in wants[1:])
    return first + rest + FLUSH + pkt("done\n")


def post(url: str, service: str, body: bytes, *, gzip: bool = False, **headers: str) -> httpx.Response:
    all_headers = {"Content-Type": f"application/x-{service}-request", **headers}
    if gzip:
        body = gzip_module.compress(body)
        all_headers["Content-Encoding"] = "gzip"
    return httpx.post(f"{url}/{service}", content=body, headers=all_headers, timeout=30)


def report_lines(response_body: bytes) -> list[str]:
    """The report-status lines of a receive-pack answer sent without side-band."""
    lines, pos = [], 0
    while pos + 4 <= len(response_body):
        size = int(response_body[pos : pos + 4], 16)
        if size == 0:
            break
        lines.append(response_body[pos + 4 : pos + size].decode().rstrip("\n"))
        pos += size
    return lines
