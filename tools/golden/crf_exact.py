"""Golden fixtures for @hpseg/eval's dense CRF: an exact O(N^2) mean-field written from
Kraehenbuehl & Koltun 2011 with pydensecrf's conventions (independent of the TypeScript code).

  unary  U = -log(clip(softmax(logits), 1e-5, 1))                (pydensecrf unary_from_softmax)
  kernel K_m[i, j] = exp(-0.5 * |f_i - f_j|^2), self term included
         f = (x/sxy, y/sxy) for the Gaussian kernel, (x/sxy, y/sxy, r/srgb, g/srgb, b/srgb) bilateral
  norm   NORMALIZE_SYMMETRIC: Kt_m = D^-1/2 K_m D^-1/2, D = diag(K_m 1)
  update Q0 = softmax(-U);  Q <- softmax(-U + sum_m w_m Kt_m Q)   (Potts compatibility -w)

Run: /usr/bin/python3 tools/golden/crf_exact.py  -> packages/eval/test/fixtures/crf_exact.json
"""
import json
import os

import numpy as np


def softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def normalised_kernel(f):
    d2 = ((f[:, None, :] - f[None, :, :]) ** 2).sum(-1)
    k = np.exp(-0.5 * d2)
    norm = 1.0 / np.sqrt(k.sum(1) + 1e-20)
    return norm[:, None] * k * norm[None, :]


def dense_crf_exact(image, logits, params):
    h, w, _ = image.shape
    k = logits.shape[-1]
    ys, xs = np.mgrid[0:h, 0:w]
    pos = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float64)
    rgb = image.reshape(-1, 3).astype(np.float64)
    p = softmax(logits.reshape(-1, k).astype(np.float64))
    unary = -np.log(np.clip(p, params["clip"], 1.0))
    g, b = params["gaussian"], params["bilateral"]
    m = g["weight"] * normalised_kernel(pos / g["sxy"])
    m = m + b["weight"] * normalised_kernel(np.concatenate([pos / b["sxy"], rgb / b["srgb"]], 1))
    q = softmax(-unary)
    for _ in range(params["iterations"]):
        q = softmax(-unary + m @ q)
    return q.reshape(h, w, k)


def case(name, seed, h, w, k, params):
    rng = np.random.default_rng(seed)
    # two colour regions with noise, logits mildly favouring the region label
    image = np.zeros((h, w, 3))
    image[:, : w // 2] = rng.uniform(0, 255, 3)
    image[:, w // 2 :] = rng.uniform(0, 255, 3)
    image = np.clip(np.round(image + rng.uniform(-6, 6, image.shape)), 0, 255).astype(np.uint8)
    logits = rng.uniform(-2, 2, (h, w, k)).astype(np.float32)
    logits[:, : w // 2, 0] += 0.8
    logits[:, w // 2 :, 1] += 0.8
    q = dense_crf_exact(image, logits, params)
    return {
        "name": name,
        "height": h,
        "width": w,
        "numLabels": k,
        "params": params,
        "image": image.ravel().tolist(),
        "logits": [float(v) for v in logits.ravel()],
        "probabilities": [float(v) for v in q.ravel()],
        "labels": q.argmax(-1).ravel().tolist(),
    }


OFFICIAL = {
    "iterations": 10,
    "clip": 1e-5,
    "gaussian": {"sxy": 1, "weight": 3},
    "bilateral": {"sxy": 67, "srgb": 3, "weight": 4},
}
CUSTOM = {
    "iterations": 5,
    "clip": 1e-5,
    "gaussian": {"sxy": 2, "weight": 1},
    "bilateral": {"sxy": 5, "srgb": 20, "weight": 2},
}

if __name__ == "__main__":
    cases = [
        case("official constants, 8x10, K=3", 0, 8, 10, 3, OFFICIAL),
        case("custom constants, 9x7, K=4", 1, 9, 7, 4, CUSTOM),
    ]
    out = os.path.join(os.path.dirname(__file__), "..", "..", "packages", "eval", "test", "fixtures", "crf_exact.json")
    with open(out, "w") as fh:
        json.dump({"generator": "tools/golden/crf_exact.py", "cases": cases}, fh)
    print("wrote", os.path.normpath(out), os.path.getsize(out), "bytes")
