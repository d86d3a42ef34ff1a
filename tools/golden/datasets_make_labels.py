"""Label-PNG and five-crop fixtures for @hpseg/datasets.

Writes into packages/datasets/test/fixtures/:
  png/*.png + png.json      label PNGs written by PIL: 8-bit grey, palette (8-bit and 4-bit) whose
                            colours differ from their indices, 16-bit grey, RGB (must be refused);
                            png.json holds the expected values (grey level / palette INDEX).
  coco/*.jpg, coco/*.png    two tiny COCO-Stuff samples (JPEG image, fine-id label with 255; one
                            label stored as a palette PNG) and
  fivecrop.json             the reference of official-behaviour §6.4 computed here: PIL-decoded image, the official
                            fine->coarse mapping, torchvision five_crop boxes (tl, tr, bl, br, center
                            with int(round())), label+1 per crop, the crop pixels, and PIL's own
                            quality-75 JPEG of each crop decoded back (to measure encoder differences).

Run: /usr/bin/python3 tools/golden/datasets_make_labels.py
"""
import io
import json
import os

import numpy as np
from PIL import Image

FIX = os.path.join(os.path.dirname(__file__), "..", "..", "packages", "datasets", "test", "fixtures")

FINE_TO_COARSE = {0: 9, 1: 11, 2: 11, 3: 11, 4: 11, 5: 11, 6: 11, 7: 11, 8: 11, 9: 8, 10: 8, 11: 8, 12: 8,
                  13: 8, 14: 8, 15: 7, 16: 7, 17: 7, 18: 7, 19: 7, 20: 7, 21: 7, 22: 7, 23: 7, 24: 7,
                  25: 6, 26: 6, 27: 6, 28: 6, 29: 6, 30: 6, 31: 6, 32: 6, 33: 10, 34: 10, 35: 10, 36: 10,
                  37: 10, 38: 10, 39: 10, 40: 10, 41: 10, 42: 10, 43: 5, 44: 5, 45: 5, 46: 5, 47: 5, 48: 5,
                  49: 5, 50: 5, 51: 2, 52: 2, 53: 2, 54: 2, 55: 2, 56: 2, 57: 2, 58: 2, 59: 2, 60: 2,
                  61: 3, 62: 3, 63: 3, 64: 3, 65: 3, 66: 3, 67: 3, 68: 3, 69: 3, 70: 3, 71: 0, 72: 0,
                  73: 0, 74: 0, 75: 0, 76: 0, 77: 1, 78: 1, 79: 1, 80: 1, 81: 1, 82: 1, 83: 4, 84: 4,
                  85: 4, 86: 4, 87: 4, 88: 4, 89: 4, 90: 4, 91: 17, 92: 17, 93: 22, 94: 20, 95: 20, 96: 22,
                  97: 15, 98: 25, 99: 16, 100: 13, 101: 12, 102: 12, 103: 17, 104: 17, 105: 23, 106: 15,
                  107: 15, 108: 17, 109: 15, 110: 21, 111: 15, 112: 25, 113: 13, 114: 13, 115: 13, 116: 13,
                  117: 13, 118: 22, 119: 26, 120: 14, 121: 14, 122: 15, 123: 22, 124: 21, 125: 21, 126: 24,
                  127: 20, 128: 22, 129: 15, 130: 17, 131: 16, 132: 15, 133: 22, 134: 24, 135: 21, 136: 17,
                  137: 25, 138: 16, 139: 21, 140: 17, 141: 22, 142: 16, 143: 21, 144: 21, 145: 25, 146: 21,
                  147: 26, 148: 21, 149: 24, 150: 20, 151: 17, 152: 14, 153: 21, 154: 26, 155: 15, 156: 23,
                  157: 20, 158: 21, 159: 24, 160: 15, 161: 24, 162: 22, 163: 25, 164: 15, 165: 20, 166: 17,
                  167: 17, 168: 22, 169: 14, 170: 18, 171: 18, 172: 18, 173: 18, 174: 18, 175: 18, 176: 18,
                  177: 26, 178: 26, 179: 19, 180: 19, 181: 24}


def pngs(rng):
    out = os.path.join(FIX, "png")
    os.makedirs(out, exist_ok=True)
    expect = {}
    a = rng.integers(0, 182, size=(5, 7)).astype(np.uint8)
    a[0, 0] = 255
    Image.fromarray(a, "L").save(os.path.join(out, "gray8.png"))
    expect["gray8.png"] = a
    p = Image.fromarray(a, "P")
    p.putpalette([(i * 37 + 11) % 256 for i in range(768)])
    p.save(os.path.join(out, "palette8.png"))
    expect["palette8.png"] = a
    b = rng.integers(0, 16, size=(6, 9)).astype(np.uint8)
    p4 = Image.fromarray(b, "P")
    p4.putpalette([(i * 53 + 7) % 256 for i in range(48)])
    p4.save(os.path.join(out, "palette4.png"), bits=4)
    expect["palette4.png"] = b
    c = rng.integers(0, 65535, size=(4, 3)).astype(np.uint16)
    Image.fromarray(c.astype(np.int32), "I").convert("I;16").save(os.path.join(out, "gray16.png"))
    back = np.array(Image.open(os.path.join(out, "gray16.png"))).astype(np.int64)
    expect["gray16.png"] = back
    Image.fromarray(rng.integers(0, 256, size=(3, 3, 3), dtype=np.uint8), "RGB").save(os.path.join(out, "rgb.png"))
    meta = {k: {"shape": list(v.shape), "values": v.reshape(-1).astype(int).tolist(),
                "mode": Image.open(os.path.join(out, k)).mode} for k, v in expect.items()}
    with open(os.path.join(out, "png.json"), "w") as f:
        json.dump(meta, f)


def smooth_image(rng, h, w):
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([40 + 12 * x + 5 * y, 200 - 9 * y + 3 * x, 120 + 30 * np.sin(x / 2.0 + y / 3.0)], -1)
    img = img + rng.integers(-6, 7, size=img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def five_crop_boxes(h, w, ratio=0.5):
    ch, cw = int(h * ratio), int(w * ratio)
    ct, cl = int(round((h - ch) / 2.0)), int(round((w - cw) / 2.0))
    return [(0, 0), (0, w - cw), (h - ch, 0), (h - ch, w - cw), (ct, cl)], ch, cw


def coco(rng):
    out = os.path.join(FIX, "coco")
    os.makedirs(out, exist_ok=True)
    items = []
    for idx, (iid, h, w, palette) in enumerate([("000000000139", 11, 14, False), ("000000000285", 9, 8, True)]):
        img = smooth_image(rng, h, w)
        Image.fromarray(img, "RGB").save(os.path.join(out, iid + ".jpg"), quality=90)
        fine = rng.integers(0, 182, size=(h, w)).astype(np.uint8)
        fine[0, :3] = 255
        fine[h - 1, w - 1] = 255
        lab = Image.fromarray(fine, "P" if palette else "L")
        if palette:
            lab.putpalette([(i * 91 + 3) % 256 for i in range(768)])
        lab.save(os.path.join(out, iid + ".png"))
        decoded = np.array(Image.open(os.path.join(out, iid + ".jpg")).convert("RGB"))
        # official Coco.__getitem__: 255 -> -1, coarse map initialised with zeros, -1 kept
        label = fine.astype(np.int64)
        label[label == 255] = -1
        coarse = np.zeros_like(label)
        for f, c in FINE_TO_COARSE.items():
            coarse[label == f] = c
        coarse[label == -1] = -1
        boxes, ch, cw = five_crop_boxes(h, w)
        crops = []
        for k, (t, l) in enumerate(boxes):
            pix = decoded[t:t + ch, l:l + cw]
            buf = io.BytesIO()
            Image.fromarray(pix).save(buf, "JPEG")  # PIL default quality 75, as STEGO's crop script
            pil_jpeg = np.array(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
            crops.append({"n": idx * 5 + k, "box": [t, l, ch, cw],
                          "label1": (coarse[t:t + ch, l:l + cw] + 1).astype(np.uint8).reshape(-1).tolist(),
                          "pixels": pix.reshape(-1).tolist(),
                          "pilJpegDecoded": pil_jpeg.reshape(-1).tolist()})
        items.append({"id": iid, "height": h, "width": w, "paletteLabel": palette,
                      "decoded": decoded.reshape(-1).tolist(), "fine": fine.reshape(-1).astype(int).tolist(),
                      "coarse": coarse.reshape(-1).tolist(), "crops": crops})
    with open(os.path.join(FIX, "fivecrop.json"), "w") as f:
        json.dump({"items": items}, f)


def main():
    rng = np.random.default_rng(11)
    pngs(rng)
    coco(rng)
    print("wrote png/, coco/, fivecrop.json")


if __name__ == "__main__":
    main()
