#!/usr/bin/env python3
"""torchvision reference outputs for the `vit` crate's ResNet tests.

Regenerate (from the repository root):
    pip install torch torchvision pillow safetensors numpy && python3 scripts/make_resnet_fixtures.py

A full ResNet-50 checkpoint is 100 MB, too big to commit. Its parity test therefore uses weights
that both sides compute from a formula (`det_uniform` below; the Rust test has the same one):
tensor `name` with n values gets u_i = top 24 bits of splitmix64(fnv1a64(name) + (i+1)·golden)
/ 2^24, for i in 0..n, in float32. From u, in float32 arithmetic:
    conv weight (4-d)        (2u − 1) · sqrt(6 / fan_in)       He-uniform
    BatchNorm weight, 1-d    0.5 + u
    BatchNorm bias, 1-d      0.2 · (2u − 1)
    running_mean             0.2 · (2u − 1)
    running_var              0.5 + u
    input (2, 3, 64, 80)     u
Every value is reproduced bit for bit in Rust; probe.json holds a few of them to prove it.

Writes crates/vit/tests/fixtures/resnet/:
  resnet50_pooled.npy     float32 (2, 2048): torchvision resnet50 (fc = Identity, eval) on the
                          formula weights and input: the global-average-pooled features
  probe.json              first values of some formula tensors, and the output's scale
  resnet50_constant.pth   a full resnet50 state dict (fc included) whose tensors are stride-0 views
                          into one shared 8-value storage, so the file is small; torch.save zip format
  resnet50_missing_var.pth  the same without `layer3.2.bn2.running_var`
  tiny/                   a small torchvision ResNet (torchvision's Bottleneck and _make_layer,
                          layers [2,1,1,1], planes [2,4,8,16], stem 4, groups 2) with formula weights:
      config.json         its microprop config
      model.pth           torch.save(state_dict) (zip format, with fc and num_batches_tracked)
      model_legacy.pth    the same in the pre-1.6 legacy format
      wrapped.pth.tar     {"epoch": 7, "state_dict": {"module." + key: tensor}} (DataParallel style)
      model.safetensors   the same tensors as safetensors
      missing_var.pth     model.pth without `layer3.0.bn2.running_var`
      input.npy           float32 (2, 3, 37, 45) formula input (name "tiny_input")
      pooled.npy          float32 (2, 64) pooled features
      stage2.npy          float32 (2, 16, 5, 6) output of layer2
  paper_gray_224.npy      uint8 (224, 224): the paper's ResNet preprocessing of preprocess/gray.png
                          (top-left largest square crop, convert("RGB"), Resize((224, 224)) on the
                          PIL image); channel 0 (the image is gray, so all three are equal)
  param_counts.json       parameters + BatchNorm running statistics (fc excluded) of the torchvision
                          architectures

Deterministic: the weights come from the formula, one torch thread; re-running reproduces every
file byte for byte except model_legacy.pth (the legacy format writes fresh storage keys).
"""
import json
import math
import pathlib

import numpy as np
import torch
import torchvision
from PIL import Image
from safetensors.torch import save_file
from torch import nn
from torchvision import transforms
from torchvision.models.resnet import Bottleneck, ResNet

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "crates/vit/tests/fixtures/resnet"
torch.set_num_threads(1)

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def fnv1a64(name: str) -> int:
    h = 0xCBF29CE484222325
    for b in name.encode():
        h = ((h ^ b) * 0x100000001B3) & MASK
    return h


def det_uniform(name: str, n: int) -> np.ndarray:
    """float32 values in [0, 1): 24 random bits each (see the module docstring)."""
    z = np.uint64(fnv1a64(name)) + np.arange(1, n + 1, dtype=np.uint64) * np.uint64(GOLDEN)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(40)).astype(np.float32) * np.float32(2.0**-24)


def det_tensor(name: str, shape) -> np.ndarray:
    n = int(np.prod(shape))
    u = det_uniform(name, n)
    one, two = np.float32(1), np.float32(2)
    signed = two * u - one
    if len(shape) == 4:
        fan_in = shape[1] * shape[2] * shape[3]
        v = signed * np.float32(math.sqrt(6.0 / fan_in))
    elif name.endswith("running_var") or name.endswith("weight"):
        v = np.float32(0.5) + u
    elif name.endswith("running_mean") or name.endswith("bias"):
        v = np.float32(0.2) * signed
    else:
        raise ValueError(f"no formula for {name} {shape}")
    return v.astype(np.float32).reshape(shape)


def formula_state_dict(model: nn.Module) -> dict:
    sd = {}
    for k, v in model.state_dict().items():
        if k.endswith("num_batches_tracked") or k.startswith("fc."):
            sd[k] = v
        else:
            sd[k] = torch.from_numpy(det_tensor(k, tuple(v.shape)))
    return sd


def save_npy(path, arr):
    np.save(path, np.ascontiguousarray(arr))


class TinyResNet(ResNet):
    """torchvision's ResNet with small stage widths; blocks come from torchvision's _make_layer."""

    def __init__(self, layers, planes, stem, groups, width_per_group):
        nn.Module.__init__(self)
        self._norm_layer = nn.BatchNorm2d
        self.inplanes, self.dilation = stem, 1
        self.groups, self.base_width = groups, width_per_group
        self.conv1 = nn.Conv2d(3, stem, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(Bottleneck, planes[0], layers[0])
        self.layer2 = self._make_layer(Bottleneck, planes[1], layers[1], stride=2)
        self.layer3 = self._make_layer(Bottleneck, planes[2], layers[2], stride=2)
        self.layer4 = self._make_layer(Bottleneck, planes[3], layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(planes[3] * Bottleneck.expansion, 10)


def resnet50_fixture(probe):
    model = torchvision.models.resnet50()
    model.load_state_dict(formula_state_dict(model))
    model.fc = nn.Identity()
    model.eval()
    x = torch.from_numpy(det_tensor_input("input", (2, 3, 64, 80)))
    with torch.no_grad():
        pooled = model(x).numpy()
    save_npy(OUT / "resnet50_pooled.npy", pooled)
    probe["resnet50_pooled"] = {"max_abs": float(np.abs(pooled).max()), "mean": float(pooled.mean())}
    for name, shape in [("conv1.weight", (64, 3, 7, 7)), ("layer3.2.bn2.running_var", (256,)),
                        ("layer4.0.downsample.1.bias", (2048,)), ("layer1.0.bn1.weight", (64,))]:
        probe[name] = det_tensor(name, shape).reshape(-1)[:4].tolist()
    probe["input"] = det_tensor_input("input", (2, 3, 64, 80)).reshape(-1)[:4].tolist()


def det_tensor_input(name, shape):
    return det_uniform(name, int(np.prod(shape))).reshape(shape)


def constant_checkpoints():
    """Full-size resnet50 state dicts in a few kB: every tensor is a stride-0 view of one value
    of a single shared 8-value storage."""
    sd = torchvision.models.resnet50().state_dict()
    base = torch.tensor([0.01 * (1 + j) for j in range(7)] + [1.0])
    small = {}
    for i, (k, v) in enumerate(sd.items()):
        if k.endswith("num_batches_tracked"):
            small[k] = v
        else:
            j = 7 if k.endswith("running_var") else i % 7
            small[k] = base[j:j + 1].expand(v.shape)
    torch.save(small, OUT / "resnet50_constant.pth")
    del small["layer3.2.bn2.running_var"]
    torch.save(small, OUT / "resnet50_missing_var.pth")


def tiny_fixture():
    d = OUT / "tiny"
    d.mkdir(parents=True, exist_ok=True)
    cfg = dict(layers=[2, 1, 1, 1], planes=[2, 4, 8, 16], stem=4, groups=2, width_per_group=64)
    model = TinyResNet(**cfg)
    torch.manual_seed(0)  # fc only (unused by the features)
    model.fc.reset_parameters()
    model.load_state_dict(formula_state_dict(model))
    model.eval()
    sd = model.state_dict()
    (d / "config.json").write_text(json.dumps({
        "model_type": "resnet", "layers": cfg["layers"], "planes": cfg["planes"],
        "stem_channels": cfg["stem"], "groups": cfg["groups"],
        "width_per_group": cfg["width_per_group"],
    }, indent=1) + "\n")
    torch.save(sd, d / "model.pth")
    torch.save(sd, d / "model_legacy.pth", _use_new_zipfile_serialization=False)
    torch.save({"epoch": 7, "state_dict": {"module." + k: v for k, v in sd.items()}}, d / "wrapped.pth.tar")
    save_file({k: v.contiguous() for k, v in sd.items()}, d / "model.safetensors")
    missing = dict(sd)
    del missing["layer3.0.bn2.running_var"]
    torch.save(missing, d / "missing_var.pth")

    x = torch.from_numpy(det_tensor_input("tiny_input", (2, 3, 37, 45)))
    save_npy(d / "input.npy", x.numpy())
    stage = {}
    model.layer2.register_forward_hook(lambda m, i, o: stage.__setitem__("2", o))
    model.fc = nn.Identity()
    with torch.no_grad():
        save_npy(d / "pooled.npy", model(x).numpy())
    save_npy(d / "stage2.npy", stage["2"].numpy())


def paper_preprocessing():
    img = Image.open(ROOT / "crates/vit/tests/fixtures/preprocess/gray.png")
    s = min(img.size)
    img = img.crop((0, 0, s, s)).convert("RGB")
    t = transforms.Compose([transforms.Resize((224, 224)), transforms.ToTensor()])(img)
    u8 = np.asarray(img.resize((224, 224), Image.BILINEAR))
    assert np.array_equal(np.round(t.numpy() * 255).astype(np.uint8).transpose(1, 2, 0), u8)
    assert np.array_equal(u8[..., 0], u8[..., 1]) and np.array_equal(u8[..., 0], u8[..., 2])
    save_npy(OUT / "paper_gray_224.npy", u8[..., 0])


def param_counts():
    archs = {
        "resnet50": torchvision.models.resnet50, "resnet101": torchvision.models.resnet101,
        "resnet152": torchvision.models.resnet152,
        "resnext50-32x4d": torchvision.models.resnext50_32x4d,
        "resnext101-32x8d": torchvision.models.resnext101_32x8d,
        "resnext101-64x4d": torchvision.models.resnext101_64x4d,
        "wide-resnet50-2": torchvision.models.wide_resnet50_2,
        "wide-resnet101-2": torchvision.models.wide_resnet101_2,
    }
    out = []
    with torch.device("meta"):
        for name, fn in archs.items():
            sd = fn().state_dict()
            n = sum(v.numel() for k, v in sd.items()
                    if not k.startswith("fc.") and not k.endswith("num_batches_tracked"))
            out.append({"name": name, "params_and_running_stats": n})
    (OUT / "param_counts.json").write_text(json.dumps(out, indent=1) + "\n")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    probe = {"torch": torch.__version__, "torchvision": torchvision.__version__}
    resnet50_fixture(probe)
    constant_checkpoints()
    tiny_fixture()
    paper_preprocessing()
    param_counts()
    (OUT / "probe.json").write_text(json.dumps(probe, indent=1) + "\n")
    print(json.dumps(probe, indent=1))


if __name__ == "__main__":
    main()
