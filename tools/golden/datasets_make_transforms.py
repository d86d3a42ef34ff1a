"""Golden fixtures for @hpseg/datasets transforms.

Writes packages/datasets/test/fixtures/transforms.json:
  * PIL NEAREST resize source indices for many (in, out) pairs, read back from PIL 9.x itself
    (index-coded 32-bit images), so the TS port matches PIL, not a formula;
  * torchvision Resize(int) output sizes and CenterCrop offsets (formulas of torchvision 0.8-0.15,
    reimplemented here because torchvision is not installed: int() truncation and Python round());
  * photometric augmentation references: torchvision's tensor ColorJitter / rgb_to_grayscale /
    gaussian_blur formulas re-written in torch (float32) from torchvision/transforms/functional_tensor.py,
    applied to a small image in [0,1] ("image" mode) and to its ImageNet-normalised version ("official").

Run: /usr/bin/python3 tools/golden/datasets_make_transforms.py
"""
import json
import os

import numpy as np
import torch
from PIL import Image

torch.set_num_threads(1)
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "packages", "datasets", "test", "fixtures")


def pil_nearest_indices(n_in, n_out):
    row = np.arange(n_in, dtype=np.int32).reshape(1, n_in)
    im = Image.fromarray(row, mode="I")
    out = np.array(im.resize((n_out, 1), Image.NEAREST))
    return out.reshape(-1).astype(int).tolist()


def torchvision_resize_size(h, w, size):
    # torchvision.transforms.functional._compute_resized_output_size with an int size
    if w <= h:
        return [int(size * h / w), size]
    return [size, int(size * w / h)]


def center_crop_offsets(h, w, ch, cw):
    return [int(round((h - ch) / 2.0)), int(round((w - cw) / 2.0))]


# ---- photometric (torchvision functional_tensor formulas) ----
def blend(img1, img2, ratio):
    return (ratio * img1 + (1.0 - ratio) * img2).clamp(0, 1.0)


def rgb_to_grayscale(img):
    r, g, b = img.unbind(dim=-3)
    return (0.2989 * r + 0.587 * g + 0.114 * b).unsqueeze(dim=-3)


def adjust_brightness(img, f):
    return blend(img, torch.zeros_like(img), f)


def adjust_contrast(img, f):
    mean = torch.mean(rgb_to_grayscale(img), dim=(-3, -2, -1), keepdim=True)
    return blend(img, mean, f)


def adjust_saturation(img, f):
    return blend(img, rgb_to_grayscale(img), f)


def rgb2hsv(img):
    r, g, b = img.unbind(dim=-3)
    maxc = torch.max(img, dim=-3).values
    minc = torch.min(img, dim=-3).values
    eqc = maxc == minc
    cr = maxc - minc
    ones = torch.ones_like(maxc)
    s = cr / torch.where(eqc, ones, maxc)
    cr_divisor = torch.where(eqc, ones, cr)
    rc = (maxc - r) / cr_divisor
    gc = (maxc - g) / cr_divisor
    bc = (maxc - b) / cr_divisor
    hr = (maxc == r) * (bc - gc)
    hg = ((maxc == g) & (maxc != r)) * (2.0 + rc - bc)
    hb = ((maxc != g) & (maxc != r)) * (4.0 + gc - rc)
    h = hr + hg + hb
    h = torch.fmod((h / 6.0 + 1.0), 1.0)
    return torch.stack((h, s, maxc), dim=-3)


def hsv2rgb(img):
    h, s, v = img.unbind(dim=-3)
    i = torch.floor(h * 6.0)
    f = (h * 6.0) - i
    i = i.to(dtype=torch.int32)
    p = torch.clamp((v * (1.0 - s)), 0.0, 1.0)
    q = torch.clamp((v * (1.0 - s * f)), 0.0, 1.0)
    t = torch.clamp((v * (1.0 - s * (1.0 - f))), 0.0, 1.0)
    i = i % 6
    mask = i.unsqueeze(dim=-3) == torch.arange(6).view(-1, 1, 1)
    a1 = torch.stack((v, q, p, p, t, v), dim=-3)
    a2 = torch.stack((t, v, v, q, p, p), dim=-3)
    a3 = torch.stack((p, p, t, v, v, q), dim=-3)
    a4 = torch.stack((a1, a2, a3), dim=-4)
    return torch.einsum("...ijk, ...xijk -> ...xjk", mask.to(dtype=img.dtype), a4)


def adjust_hue(img, hue):
    hsv = rgb2hsv(img)
    h, s, v = hsv.unbind(dim=-3)
    h = (h + hue) % 1.0
    return hsv2rgb(torch.stack((h, s, v), dim=-3))


def gaussian_blur(img, sigma, ksize=5):
    half = (ksize - 1) * 0.5
    x = torch.linspace(-half, half, steps=ksize)
    pdf = torch.exp(-0.5 * (x / sigma).pow(2))
    k1 = pdf / pdf.sum()
    k2 = torch.mm(k1[:, None], k1[None, :])
    c = img.shape[-3]
    kernel = k2.expand(c, 1, ksize, ksize)
    pad = ksize // 2
    x4 = torch.nn.functional.pad(img.unsqueeze(0), [pad, pad, pad, pad], mode="reflect")
    return torch.nn.functional.conv2d(x4, kernel, groups=c).squeeze(0)


def photometric(img, p):
    for fn in p["order"]:
        if fn == 0:
            img = adjust_brightness(img, p["brightness"])
        elif fn == 1:
            img = adjust_contrast(img, p["contrast"])
        elif fn == 2:
            img = adjust_saturation(img, p["saturation"])
        else:
            img = adjust_hue(img, p["hue"])
    if p["grayscale"]:
        img = rgb_to_grayscale(img).expand(3, -1, -1)
    if p["blurSigma"] is not None:
        img = gaussian_blur(img, p["blurSigma"])
    return img


def main():
    pairs = [(640, 224), (480, 224), (427, 224), (500, 224), (375, 224), (2048, 640), (1024, 320),
             (200, 224), (200, 320), (333, 224), (7, 3), (3, 7), (10, 4), (13, 5), (224, 224), (1000, 999),
             (612, 320), (481, 320), (1023, 224), (99, 10)]
    nearest = [{"in": a, "out": b, "indices": pil_nearest_indices(a, b)} for a, b in pairs]
    for n in nearest:
        alt = [int(np.floor((x + 0.5) * n["in"] / n["out"])) for x in range(n["out"])]
        if alt != n["indices"]:
            print("formula floor((x+0.5)*in/out) differs from PIL for", n["in"], n["out"])
    sizes = [(480, 640), (640, 480), (427, 640), (1024, 2048), (200, 200), (375, 500), (333, 500), (481, 640), (225, 300)]
    resize = []
    for h, w in sizes:
        for s in (224, 320):
            rh, rw = torchvision_resize_size(h, w, s)
            resize.append({"height": h, "width": w, "size": s, "resized": [rh, rw],
                           "cropOffsets": center_crop_offsets(rh, rw, s, s)})
    crops = [{"height": h, "width": w, "crop": [ch, cw], "offsets": center_crop_offsets(h, w, ch, cw)}
             for h, w, ch, cw in [(5, 5, 2, 2), (7, 7, 2, 2), (9, 8, 4, 4), (11, 6, 8, 3), (240, 320, 120, 160), (10, 10, 5, 5), (13, 13, 6, 6)]]

    rng = np.random.default_rng(5)
    H, W = 6, 7
    img_u8 = rng.integers(0, 256, size=(H, W, 3), dtype=np.uint8)
    img_u8[0, 0] = [10, 10, 10]  # a grey pixel (hue undefined)
    img01 = torch.from_numpy(img_u8.astype(np.float32) / 255.0).permute(2, 0, 1)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    normed = (img01 - mean) / std
    cases = [
        {"order": [0, 1, 2, 3], "brightness": 1.2, "contrast": 0.8, "saturation": 1.25, "hue": 0.07, "grayscale": False, "blurSigma": None},
        {"order": [3, 2, 1, 0], "brightness": 0.75, "contrast": 1.3, "saturation": 0.7, "hue": -0.09, "grayscale": False, "blurSigma": 1.3},
        {"order": [1, 3, 0, 2], "brightness": 1.05, "contrast": 1.1, "saturation": 0.9, "hue": 0.02, "grayscale": True, "blurSigma": None},
        {"order": [2, 0, 3, 1], "brightness": 0.9, "contrast": 0.95, "saturation": 1.1, "hue": -0.03, "grayscale": True, "blurSigma": 0.4},
        {"order": [3, 0, 1, 2], "brightness": 1.3, "contrast": 0.7, "saturation": 1.3, "hue": 0.1, "grayscale": False, "blurSigma": 2.0},
    ]
    photo = []
    for p in cases:
        out_img = photometric(img01.clone(), p).permute(1, 2, 0).reshape(-1).tolist()
        out_off = photometric(normed.clone(), p).permute(1, 2, 0).reshape(-1).tolist()
        photo.append({"params": p, "image": out_img, "official": out_off})
    # Whole-image check: PIL resize (NEAREST) of an RGB image and an "L" label to the shorter side,
    # then CenterCrop with PIL's crop, exactly as get_transform(res, ..., "center") does.
    views = []
    for h, w, s in [(23, 31, 10), (31, 23, 12), (12, 12, 18)]:
        img = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        lab = rng.integers(0, 256, size=(h, w), dtype=np.uint8)
        rh, rw = torchvision_resize_size(h, w, s)
        top, left = center_crop_offsets(rh, rw, s, s)
        out = []
        for arr, mode in ((img, "RGB"), (lab, "L")):
            r = Image.fromarray(arr, mode).resize((rw, rh), Image.NEAREST)
            c = r.crop((left, top, left + s, top + s))
            out.append(np.array(c).reshape(-1).tolist())
        views.append({"height": h, "width": w, "size": s, "image": img.reshape(-1).tolist(),
                      "label": lab.reshape(-1).tolist(), "outImage": out[0], "outLabel": out[1]})
    fixture = {
        "views": views,
        "nearest": nearest,
        "resize": resize,
        "centerCrop": crops,
        "photometric": {"height": H, "width": W, "input": img_u8.reshape(-1).tolist(), "cases": photo},
    }
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "transforms.json"), "w") as f:
        json.dump(fixture, f)
    print("wrote transforms.json")


if __name__ == "__main__":
    main()
