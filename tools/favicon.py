#!/usr/bin/env python3
"""Draws assets/favicon.ico (16, 32 and 48 px) and assets/apple-touch-icon.png (180 px) from the
same shapes as assets/favicon.svg: Bootstrap Italia's blue (#0066CC) with a white public
building, after Bootstrap Italia's `it-pa` icon, drawn bold to stay legible at 16 px.
Python's standard library only (no rasteriser is needed): each pixel is sampled 8×8 times.

Run from the repository's root: python3 tools/favicon.py"""

import struct
import zlib

BLUE = (0x00, 0x66, 0xCC)
WHITE = (0xFF, 0xFF, 0xFF)
RADIUS = 6.0  # of the rounded square, in the 32-unit grid of favicon.svg


def in_rounded_square(x, y, radius):
    if not (0 <= x <= 32 and 0 <= y <= 32):
        return False
    cx = min(max(x, radius), 32 - radius)
    cy = min(max(y, radius), 32 - radius)
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius ** 2


def in_glyph(x, y):
    # Pediment: the triangle (16, 4.5), (3.5, 12.5), (28.5, 12.5).
    if 4.5 <= y <= 12.5 and abs(x - 16) <= (y - 4.5) * 12.5 / 8:
        return True
    for left in (6, 11.67, 17.33, 23):  # four columns
        if left <= x <= left + 3 and 14.5 <= y <= 23.5:
            return True
    return 4 <= x <= 28 and 25 <= y <= 28  # base


def draw(size, radius=RADIUS):
    n = 8
    rows = []
    for py in range(size):
        row = bytearray([0])  # PNG filter: none
        for px in range(size):
            inside = glyph = 0
            for sy in range(n):
                for sx in range(n):
                    x = (px + (sx + 0.5) / n) * 32 / size
                    y = (py + (sy + 0.5) / n) * 32 / size
                    if in_rounded_square(x, y, radius):
                        inside += 1
                        if in_glyph(x, y):
                            glyph += 1
            t = glyph / inside if inside else 0
            rgb = [round(b + (w - b) * t) for b, w in zip(BLUE, WHITE)]
            row += bytes(rgb + [round(255 * inside / (n * n))])
        rows.append(bytes(row))
    return png(size, b"".join(rows))


def png(size, raw):
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def ico(images):
    """An ICO file holding PNG images (read by every browser since 2007)."""
    head = struct.pack("<HHH", 0, 1, len(images))
    offset = 6 + 16 * len(images)
    entries = data = b""
    for size, image in images:
        entries += struct.pack("<BBBBHHII", size % 256, size % 256, 0, 0, 1, 32, len(image), offset)
        data += image
        offset += len(image)
    return head + entries + data


if __name__ == "__main__":
    with open("assets/favicon.ico", "wb") as f:
        f.write(ico([(s, draw(s)) for s in (16, 32, 48)]))
    # iOS rounds the corners itself: a full square.
    with open("assets/apple-touch-icon.png", "wb") as f:
        f.write(draw(180, radius=0.0))
