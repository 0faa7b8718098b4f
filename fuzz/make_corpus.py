#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_safetensors into fuzz/corpus/safetensors: small valid files
(every dtype, empty and 0-d tensors, padding, metadata, a checkpoint's layout) and one file for
each kind of damage the loader rejects. The files are committed; rerun this after changing it.
Standard library only."""
import json
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "safetensors")


def header(tensors, metadata=None):
    """The header of tensors [(name, dtype, shape, nbytes)] laid out back to back."""
    h, offset = {}, 0
    if metadata is not None:
        h["__metadata__"] = metadata
    for name, dtype, shape, nbytes in tensors:
        h[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    return json.dumps(h, separators=(",", ":")).encode()


def file(head, data=b"", pad=False, length=None):
    if pad:
        head += b" " * (-len(head) % 8)
    return struct.pack("<Q", len(head) if length is None else length) + head + data


def f32(*values):
    return struct.pack(f"<{len(values)}f", *values)


SEEDS = {
    "valid_f32": file(header([("w", "F32", [2], 8)], {"format": "pt"}), f32(1.5, -2.0), pad=True),
    "valid_every_dtype": file(
        header([("a", "F32", [1], 4), ("b", "F64", [1], 8), ("c", "I32", [1], 4), ("d", "I64", [1], 8),
                ("e", "U8", [2], 2), ("f", "BOOL", [2], 2), ("g", "BF16", [2], 4)]),
        f32(3.0) + struct.pack("<d", -1.0) + struct.pack("<i", 7) + struct.pack("<q", -7) + b"\x00\xff" + b"\x01\x00"
        + struct.pack("<2H", 0x3F80, 0xC040)),  # bf16 1.0 and -3.0
    "valid_empty_and_scalar": file(header([("e", "F32", [0, 3], 0), ("s", "I64", [], 8)]), struct.pack("<q", 42)),
    "valid_no_tensors": file(b"{}"),
    "valid_checkpoint_layout": file(
        header([("param/w", "F32", [2], 8), ("optim/w/step", "I64", [], 8), ("optim/w/exp_avg", "F32", [2], 8)],
               {"minidl_checkpoint": json.dumps({"format_version": 1, "epoch": 1, "batch": 0, "step": 1})}),
        f32(1, 2) + struct.pack("<q", 1) + f32(0.5, 0.25), pad=True),
    "invalid_truncated_data": file(header([("w", "F32", [4], 16)]), f32(1, 2)),
    "invalid_header_length_beyond_file": file(b"{}", length=4096),
    "invalid_overlapping_offsets": file(
        b'{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}',
        bytes(6)),
    "invalid_offsets_out_of_range": file(b'{"a":{"dtype":"U8","shape":[4],"data_offsets":[8,12]}}', bytes(4)),
    "invalid_unknown_dtype": file(b'{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}', bytes(4)),
    "invalid_shape_byte_count": file(b'{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', bytes(8)),
    "invalid_utf8_header": file(b'{"a\xff":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', bytes(1)),
    "invalid_malformed_json": file(b'{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}', bytes(1)),
    "invalid_bool_value": file(b'{"m":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}}', b"\x01\x02"),
    "invalid_duplicate_name": file(
        b'{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}',
        bytes(2)),
    "invalid_metadata_value": file(b'{"__metadata__":{"k":1}}'),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name in os.listdir(OUT):
        os.remove(os.path.join(OUT, name))
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name + ".safetensors"), "wb") as f:
            f.write(data)
    print(f"wrote {len(SEEDS)} seeds to {OUT}")


if __name__ == "__main__":
    main()
