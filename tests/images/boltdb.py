"""A minimal writer of bbolt database files (the format of Trivy's vulnerability DB), so that a
test can hand Trivy a tiny DB of its own and get real vulnerability output offline.

Layout: page 0 and 1 are the meta pages, page 2 an empty freelist, page 3 the root bucket's leaf
page (extended with overflow pages when it is larger than a page). Every other bucket is stored
inline in its parent's value (a bucket header with root 0, followed by its own leaf page), which
bbolt reads like any other bucket. Keys are sorted bytewise, as bbolt's binary search expects.
"""

from __future__ import annotations

import struct

PAGE_SIZE = 4096
MAGIC, VERSION = 0xED0CDAED, 2
BRANCH, LEAF, META, FREELIST = 0x01, 0x02, 0x04, 0x10
BUCKET_FLAG = 0x01
PAGE_HEADER = struct.Struct("<QHHI")  # id, flags, count, overflow
ELEMENT = struct.Struct("<IIII")  # flags, pos, ksize, vsize
BUCKET_HEADER = struct.Struct("<QQ")  # root pgid, sequence

Tree = dict  # bytes|str key -> bytes|str value, or a nested Tree (a bucket)


def _fnv1a64(data: bytes) -> int:
    value = 0xCBF29CE484222325
    for byte in data:
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return value


def _b(value) -> bytes:
    return value.encode() if isinstance(value, str) else value


def _leaf(tree: Tree, page_id: int) -> bytes:
    """A leaf page body (header included) holding `tree`'s entries; nested trees become inline buckets."""
    items = sorted(((_b(k), v) for k, v in tree.items()), key=lambda kv: kv[0])
    data = b""
    elements = []
    for key, value in items:
        if isinstance(value, dict):
            flags, raw = BUCKET_FLAG, BUCKET_HEADER.pack(0, 0) + _leaf(value, 0)
        else:
            flags, raw = 0, _b(value)
        elements.append((flags, key, raw))
    header_end = PAGE_HEADER.size + ELEMENT.size * len(elements)
    offsets = []
    for i, (flags, key, raw) in enumerate(elements):
        element_at = PAGE_HEADER.size + ELEMENT.size * i
        offsets.append((flags, header_end + len(data) - element_at, len(key), len(raw)))
        data += key + raw
    body = b"".join(ELEMENT.pack(*o) for o in offsets) + data
    size = PAGE_HEADER.size + len(body)
    overflow = 0 if page_id == 0 else max(0, -(-size // PAGE_SIZE) - 1)
    return PAGE_HEADER.pack(page_id, LEAF, len(elements), overflow) + body


def _meta(page_id: int, root: int, freelist: int, high_water: int, txid: int) -> bytes:
    meta = struct.pack("<IIII", MAGIC, VERSION, PAGE_SIZE, 0) + BUCKET_HEADER.pack(root, 0) + struct.pack(
        "<QQQ", freelist, high_water, txid)
    meta += struct.pack("<Q", _fnv1a64(meta))
    return (PAGE_HEADER.pack(page_id, META, 0, 0) + meta).ljust(PAGE_SIZE, b"\0")


def write(path: str, tree: Tree) -> None:
    root = _leaf(tree, 3)
    root_pages = -(-len(root) // PAGE_SIZE)
    high_water = 3 + root_pages
    freelist = PAGE_HEADER.pack(2, FREELIST, 0, 0).ljust(PAGE_SIZE, b"\0")
    with open(path, "wb") as handle:
        handle.write(_meta(0, 3, 2, high_water, 1))
        handle.write(_meta(1, 3, 2, high_water, 0))
        handle.write(freelist)
        handle.write(root.ljust(root_pages * PAGE_SIZE, b"\0"))
