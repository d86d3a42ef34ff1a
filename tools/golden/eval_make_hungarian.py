"""Golden fixtures for @hpseg/eval: confusion matrix, Hungarian matching and metrics.

Reference = SciPy's linear_sum_assignment(maximize=True) and the formulas of the official
UnsupervisedMetrics (hynnsk/HP utils/seg_utils.py, spec section 5), re-written here in NumPy:
  update : keep 0 <= gt < K and 0 <= pred < K; stats[pred, gt] += 1 (bincount of (K+E)*gt + pred, transposed)
  compute: hungarian, E == 0 : hist = stats[argsort(cols)]
           hungarian, E > 0  : hist = stats[cols of lsa(stats^T)], + one row = sum of unmatched clusters,
                               + one zero column  ("official" extra-cluster rule)
           identity          : hist = stats
           tp = diag(hist); fp = colsum - tp; fn = rowsum - tp; iou = tp / (tp + fp + fn)
           mIoU = mean(iou[~isnan(iou)]); accuracy = sum(tp) / sum(hist)
The "errors" extra-cluster rule (our default) and the many-to-one "majority" mode are not official;
they are computed by a separate generic routine below.

Run:  /usr/bin/python3 tools/golden/eval_make_hungarian.py
Writes packages/eval/test/fixtures/{hungarian.json, hungarian_171.json, confusion_update.json}.
"""

import itertools
import json
import math
import os

import numpy as np
from scipy.optimize import linear_sum_assignment

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "packages", "eval", "test", "fixtures")
rng = np.random.default_rng(20230327)


def nan_to_none(x):
    return [None if (isinstance(v, float) and math.isnan(v)) else v for v in x]


def scalar(v):
    v = float(v)
    return None if math.isnan(v) else v


def official_metrics(stats, n_classes, extra, hungarian):
    """Faithful NumPy port of UnsupervisedMetrics.compute (float64 instead of torch int64/float32)."""
    stats = stats.astype(np.float64)
    if hungarian:
        rows, cols = linear_sum_assignment(stats, maximize=True)
        if extra == 0:
            hist = stats[np.argsort(cols), :]
        else:
            rows_t, cols_t = linear_sum_assignment(stats.T, maximize=True)
            hist = stats[cols_t, :]
            missing = list(set(range(n_classes + extra)) - set(rows.tolist()))
            new_row = stats[missing, :].sum(0, keepdims=True)
            hist = np.concatenate([hist, new_row], axis=0)
            hist = np.concatenate([hist, np.zeros((n_classes + 1, 1))], axis=1)
    else:
        hist = stats
    tp = np.diag(hist)
    fp = hist.sum(0) - tp
    fn = hist.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = tp / (tp + fp + fn)
        acc = tp.sum() / hist.sum()
    present = iou[~np.isnan(iou)]
    miou = present.mean() if present.size else float("nan")
    return {"mIoU": scalar(miou), "accuracy": scalar(acc), "iou": nan_to_none(iou.tolist())}


def generic_metrics(stats, assignment, n_classes):
    """cluster -> class mapping (-1 = unmatched); unmatched pixels count as errors ("errors" rule)."""
    stats = stats.astype(np.float64)
    hist = np.zeros((n_classes, n_classes))
    for r, cls in enumerate(assignment):
        if cls >= 0:
            hist[cls] += stats[r]
    tp = np.diag(hist)
    gt_count = stats.sum(0)
    pred_count = hist.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = tp / (gt_count + pred_count - tp)
        acc = tp.sum() / stats.sum()
    present = iou[~np.isnan(iou)]
    miou = present.mean() if present.size else float("nan")
    return {"mIoU": scalar(miou), "accuracy": scalar(acc), "iou": nan_to_none(iou.tolist()),
            "matchedPixels": float(tp.sum()), "totalPixels": float(stats.sum())}


def lsa_assignment(stats):
    rows, cols = linear_sum_assignment(stats, maximize=True)
    a = [-1] * stats.shape[0]
    for r, c in zip(rows.tolist(), cols.tolist()):
        a[r] = c
    return a, float(stats[rows, cols].sum())


def is_unique(stats, total):
    """The optimum is unique iff forbidding any one matched pair lowers the optimum."""
    rows, cols = linear_sum_assignment(stats, maximize=True)
    big = float(stats.sum() + 1) * 4
    for r, c in zip(rows, cols):
        s = stats.astype(np.float64).copy()
        s[r, c] = -big
        rr, cc = linear_sum_assignment(s, maximize=True)
        if s[rr, cc].sum() >= total:
            return False
    return True


def all_optimal_mious(stats, n_classes, total):
    """Brute force (small matrices only): the mIoU of every optimal one-to-one assignment."""
    c = stats.shape[0]
    values = set()
    if c >= n_classes:  # perm[j] = cluster matched to class j
        pairs = ([(r, j) for j, r in enumerate(p)] for p in itertools.permutations(range(c), n_classes))
    else:  # perm[r] = class matched to cluster r
        pairs = ([(r, j) for r, j in enumerate(p)] for p in itertools.permutations(range(n_classes), c))
    for pp in pairs:
        if sum(stats[r, j] for r, j in pp) == total:
            a = [-1] * c
            for r, j in pp:
                a[r] = j
            m = generic_metrics(stats, a, n_classes)["mIoU"]
            values.add(None if m is None else round(m, 15))
    return sorted(values, key=lambda v: -1 if v is None else v)


def majority_assignment(stats):
    return [int(np.argmax(row)) if row.sum() > 0 else -1 for row in stats]


def case(name, stats, n_classes, probe_ties=False):
    stats = np.asarray(stats, dtype=np.float64)
    c = stats.shape[0]
    extra = c - n_classes
    assignment, total = lsa_assignment(stats)
    out = {
        "name": name,
        "numClasses": n_classes,
        "numClusters": c,
        "counts": [int(v) for v in stats.reshape(-1)],
        "hungarian": {
            "assignment": assignment,
            "matchedTotal": total,
            "unique": is_unique(stats, total),
            "errors": generic_metrics(stats, assignment, n_classes),
        },
    }
    if extra >= 0:
        out["hungarian"]["official"] = official_metrics(stats, n_classes, extra, True)
    if probe_ties:
        out["hungarian"]["optimalMIoUs"] = all_optimal_mious(stats, n_classes, total)
    ident = [i if i < n_classes else -1 for i in range(c)]
    out["identity"] = generic_metrics(stats, ident, n_classes)
    if extra == 0:
        out["identity"]["official"] = official_metrics(stats, n_classes, 0, False)
    maj = majority_assignment(stats)
    out["majority"] = {"assignment": maj, **generic_metrics(stats, maj, n_classes)}
    return out


def structured(k, c, diag_scale, noise_scale, density=1.0):
    perm = rng.permutation(c)
    s = rng.integers(0, noise_scale + 1, size=(c, k)).astype(np.float64)
    if density < 1.0:
        s *= rng.random((c, k)) < density
    for j in range(k):
        s[perm[j], j] += diag_scale + rng.integers(0, diag_scale)
    return s, perm


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = []
    cases.append(case("random 5x5", rng.integers(0, 1000, size=(5, 5)), 5, probe_ties=True))
    cases.append(case("random 27x27", rng.integers(0, 100000, size=(27, 27)), 27))
    cases.append(case("structured 27x27 (permuted diagonal plus noise)", structured(27, 27, 10**6, 10**4)[0], 27))
    big = structured(27, 27, 10**9, 10**7)[0]
    cases.append(case("structured 27x27 with counts past 2^31", big, 27))
    rect = structured(27, 30, 10**5, 10**3)[0]
    cases.append(case("rectangular 30x27, extra clusters hold pixels", rect, 27))
    # as produced by update(): predictions in the extra clusters (rows >= 27) are dropped
    rect0 = structured(27, 27, 10**5, 10**3)[0]
    rect0 = np.concatenate([rect0, np.zeros((3, 27))], axis=0)
    cases.append(case("rectangular 30x27, extra clusters empty", rect0, 27))
    cases.append(case("rectangular 7x5 small", rng.integers(0, 50, size=(7, 5)), 5, probe_ties=True))
    cases.append(case("fewer clusters than classes 4x6", rng.integers(0, 100, size=(4, 6)), 6, probe_ties=True))
    cases.append(case("tied: all equal 4x4", np.full((4, 4), 7), 4, probe_ties=True))
    cases.append(case("tied: two interchangeable clusters",
                      [[5, 5, 0, 1], [5, 5, 0, 1], [0, 1, 9, 0], [2, 0, 0, 8]], 4, probe_ties=True))
    cases.append(case("not tied: symmetric blocks",
                      [[3, 1, 0, 0], [1, 3, 0, 0], [0, 0, 3, 1], [0, 0, 1, 3]], 4, probe_ties=True))
    cases.append(case("tied: optima with different mIoU", [[5, 3], [3, 1]], 2, probe_ties=True))
    absent, perm = structured(6, 6, 1000, 20)
    # class 2 absent from the ground truth and the cluster that would hold it predicts nothing -> IoU NaN
    absent[:, 2] = 0
    absent[perm[2], :] = 0
    cases.append(case("class absent from both ground truth and prediction", absent, 6, probe_ties=True))
    cases.append(case("class absent from ground truth only", [[10, 2, 3], [1, 8, 0], [0, 0, 0]], 3, probe_ties=True))
    cases.append(case("all zero", np.zeros((3, 3)), 3, probe_ties=True))
    over = structured(27, 40, 10**4, 300, density=0.3)[0]
    over[27:] = rng.integers(0, 3000, size=(13, 27)) * (rng.random((13, 27)) < 0.2)
    cases.append(case("over-clustering 40x27 (majority mode)", over, 27))
    with open(os.path.join(OUT, "hungarian.json"), "w") as f:
        json.dump({"generator": "tools/golden/eval_make_hungarian.py", "cases": cases}, f, separators=(",", ":"))

    big171 = structured(171, 171, 5000, 60, density=0.1)[0]
    with open(os.path.join(OUT, "hungarian_171.json"), "w") as f:
        json.dump({"generator": "tools/golden/eval_make_hungarian.py",
                   "cases": [case("structured 171x171 sparse", big171, 171)]}, f, separators=(",", ":"))

    # update(): official bincount formula on labels with ignore values and extra-cluster predictions.
    k, e, n = 5, 2, 3000
    gt = rng.choice([-1, 0, 1, 2, 3, 4, 255], size=n, p=[0.05, 0.2, 0.2, 0.2, 0.15, 0.1, 0.1])
    pred = rng.integers(-1, k + e, size=n)
    mask = (gt >= 0) & (gt < k) & (pred >= 0) & (pred < k)
    stats = np.bincount((k + e) * gt[mask] + pred[mask], minlength=k * (k + e)).reshape(k, k + e).T
    with open(os.path.join(OUT, "confusion_update.json"), "w") as f:
        json.dump({"generator": "tools/golden/eval_make_hungarian.py", "numClasses": k, "extraClusters": e,
                   "pred": pred.tolist(), "gt": gt.tolist(), "counts": stats.reshape(-1).tolist(),
                   "kept": int(mask.sum()),
                   "unique": is_unique(stats.astype(np.float64), lsa_assignment(stats.astype(np.float64))[1]),
                   "official": official_metrics(stats, k, e, True)}, f, separators=(",", ":"))
    for name in ("hungarian.json", "hungarian_171.json", "confusion_update.json"):
        print(name, os.path.getsize(os.path.join(OUT, name)), "bytes")


if __name__ == "__main__":
    main()
