"""MATLAB v5 fixtures for @hpseg/datasets' MAT reader and Potsdam loader.

Writes packages/datasets/test/fixtures/mat/*.mat with scipy.io.savemat (format 5, compressed and
uncompressed) plus mat.json with every array's shape, class and values in row-major (C) order.

Run: /usr/bin/python3 tools/golden/datasets_make_mat.py
"""
import json
import os

import numpy as np
from scipy.io import savemat

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "packages", "datasets", "test", "fixtures", "mat")


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(0)
    expect = {}

    def save(fname, arrays, compress):
        savemat(os.path.join(OUT, fname), arrays, do_compression=compress, format="5")
        expect[fname] = {k: {"shape": list(v.shape), "dtype": str(v.dtype), "values": v.reshape(-1).tolist()}
                         for k, v in arrays.items()}

    # Potsdam-like tiles: image H x W x 4 (RGB-IR) uint8 and gt H x W uint8 with 0..5 and 255.
    img0 = rng.integers(0, 256, size=(6, 5, 4), dtype=np.uint8)
    gt0 = rng.integers(0, 6, size=(6, 5)).astype(np.uint8)
    gt0[0, 0] = 255
    gt0[5, 4] = 255
    img1 = rng.integers(0, 256, size=(6, 5, 4), dtype=np.uint8)
    gt1 = np.array([[0, 1, 2, 3, 4], [5, 255, 0, 1, 2]] * 3, dtype=np.uint8)
    save("img_p0.mat", {"img": img0}, False)
    save("gt_p0.mat", {"gt": gt0}, False)
    save("img_p1.mat", {"img": img1}, True)
    save("gt_p1.mat", {"gt": gt1}, True)
    # a gt with an out-of-range value (7) for verify
    gt_bad = gt0.copy()
    gt_bad[2, 2] = 7
    save("gt_bad.mat", {"gt": gt_bad}, True)
    # a float image in [0, 1] (to_pil_image multiplies by 255 and truncates)
    save("img_float.mat", {"img": rng.random((4, 3, 4))}, True)
    # numeric classes, 1x1 (small data element), several variables in one file
    mixed = {
        "d2": rng.standard_normal((3, 4)),
        "s3": rng.standard_normal((2, 3, 2)).astype(np.float32),
        "i8": np.array([[-128, 0, 127]], dtype=np.int8),
        "i16": rng.integers(-30000, 30000, size=(2, 2, 3)).astype(np.int16),
        "u16": rng.integers(0, 65535, size=(3, 2)).astype(np.uint16),
        "i32": rng.integers(-2**31, 2**31 - 1, size=(2, 3)).astype(np.int32),
        "u32": rng.integers(0, 2**32 - 1, size=(1, 4)).astype(np.uint32),
        "one": np.array([[42]], dtype=np.uint8),
    }
    save("mixed.mat", mixed, False)
    save("mixed_z.mat", mixed, True)
    with open(os.path.join(OUT, "mat.json"), "w") as f:
        json.dump(expect, f)
    print("wrote", sorted(expect))


if __name__ == "__main__":
    main()
