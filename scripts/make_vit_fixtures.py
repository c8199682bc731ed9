#!/usr/bin/env python3
"""Hugging Face reference outputs for the `vit` crate's tests (DINOv2, CLIP vision, SAM image encoder).

Regenerate (from the repository root):
    pip install torch torchvision transformers pillow safetensors numpy && python3 scripts/make_vit_fixtures.py

Writes crates/vit/tests/fixtures/ (see README.md there for what each file is exactly):
  dinov2/ dinov2_swiglu/ dinov2_square/ clip/ sam/
      config.json + model.safetensors   HF `save_pretrained(..., safe_serialization=True)` of a tiny
                                        random model, every parameter perturbed away from its init;
                                        the key layout is the hub layout (HF reverts its internal renames
                                        on save)
      input.npy                         float32 (2, 3, H, W) pixel values in [0, 1)
      <outputs>.npy                     float32 reference outputs
      meta.json                         HF class, input shape, how each output was computed
  param_counts.json                     parameter counts of the real named configurations (meta device)
  preprocess/                           PNG inputs + uint8 (H, W, 3) results of crop/convert/Resize
  versions.json                         torch / transformers / torchvision / PIL versions used

Deterministic: fixed seeds, one torch thread, eager attention. Re-running reproduces the .npy files
byte for byte (with the same library versions).
"""
import json
import pathlib
import shutil

import numpy as np
import PIL
import torch
import torchvision
import transformers
from PIL import Image
from torch import nn
from torchvision import transforms
from transformers import (
    CLIPConfig,
    CLIPModel,
    CLIPVisionConfig,
    CLIPVisionModel,
    Dinov2Config,
    Dinov2Model,
    SamConfig,
    SamMaskDecoderConfig,
    SamModel,
    SamPromptEncoderConfig,
    SamVisionConfig,
)
from transformers.models.sam.modeling_sam import SamVisionEncoder

OUT = pathlib.Path(__file__).resolve().parent.parent / "crates/vit/tests/fixtures"
N = 2  # batch everywhere
torch.set_num_threads(1)  # reproducible float sums regardless of the machine's core count


def save_npy(path, arr):
    arr = np.ascontiguousarray(arr)
    np.save(path, arr)
    return f"{path.name} {arr.dtype} {list(arr.shape)}"


def t2np(t):
    return t.detach().cpu().numpy().astype(np.float32)


# --------------------------------------------------------------------------------------------
# perturbation: every parameter moves away from its (often constant) init, so that a Rust port
# that ignores a LayerNorm affine, a layer scale, a bias, a position table... fails the test.
# --------------------------------------------------------------------------------------------
EMBED_NAMES = ("position_embeddings", "cls_token", "mask_token", "class_embedding", "pos_embed",
               "rel_pos_h", "rel_pos_w", "position_embedding.weight")


@torch.no_grad()
def perturb(model: nn.Module, seed: int):
    g = torch.Generator().manual_seed(seed)

    def randn(p):
        return torch.randn(p.shape, generator=g, dtype=p.dtype)

    layer_norm_params = set()
    for mod in model.modules():
        if isinstance(mod, nn.LayerNorm):
            for p in mod.parameters(recurse=False):
                layer_norm_params.add(id(p))
    log = {}
    # named_parameters() de-duplicates tied parameters (SAM's shared positional embedding)
    for name, p in model.named_parameters():
        if id(p) in layer_norm_params:
            if name.endswith("weight"):
                p.copy_(1.0 + 0.2 * randn(p))
                log[name] = "1 + 0.2*randn (LayerNorm weight)"
            else:
                p.copy_(0.2 * randn(p))
                log[name] = "0.2*randn (LayerNorm bias)"
        elif name.endswith("lambda1"):
            p.copy_(0.5 + torch.rand(p.shape, generator=g, dtype=p.dtype))
            log[name] = "U(0.5, 1.5) (layer scale)"
        elif any(name.endswith(k) for k in EMBED_NAMES):
            p.copy_(0.5 * randn(p))
            log[name] = "0.5*randn (embedding / token / rel-pos table)"
        elif p.ndim >= 2:
            fan_in = p[0].numel()
            p.add_(randn(p) * fan_in ** -0.5)
            log[name] = "+= randn/sqrt(fan_in)"
        else:
            p.add_(0.1 * randn(p))
            log[name] = "+= 0.1*randn"
    return log


def safetensors_keys(path):
    from safetensors import safe_open

    with safe_open(str(path / "model.safetensors"), "pt") as f:
        return {k: list(f.get_slice(k).get_shape()) for k in sorted(f.keys())}


def save_model(model, d):
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    model.save_pretrained(str(d), safe_serialization=True)


def check_reload(cls, d, fn, expected):
    """The saved directory, loaded back by HF (eager attention), must reproduce the outputs exactly.
    Returns the largest difference of the same outputs computed with sdpa attention instead."""
    m2 = cls.from_pretrained(str(d), attn_implementation="eager").eval()
    with torch.no_grad():
        got = fn(m2)
    for k, v in expected.items():
        diff = (got[k] - v).abs().max().item()
        assert diff == 0.0, (d.name, k, diff)
    m3 = cls.from_pretrained(str(d), attn_implementation="sdpa").eval()
    with torch.no_grad():
        got = fn(m3)
    return max((got[k] - v).abs().max().item() for k, v in expected.items())


def write_meta(d, meta):
    (d / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")


# --------------------------------------------------------------------------------------------
# DINOv2
# --------------------------------------------------------------------------------------------
def dinov2_fixture(name, cfg_kwargs, hw, seed, with_hidden=True, model=None):
    d = OUT / name
    shared = model is not None
    torch.manual_seed(seed)
    if model is None:
        cfg = Dinov2Config(**cfg_kwargs)
        model = Dinov2Model._from_config(cfg, attn_implementation="eager")
        perturb(model, seed)
    model.eval()
    save_model(model, d)
    x = torch.rand(N, 3, *hw)

    def run(m):
        out = m(pixel_values=x, output_hidden_states=True)
        r = {"pooler": out.pooler_output, "last_hidden": out.last_hidden_state}
        if with_hidden:
            r["hidden_2"] = out.hidden_states[2]
        # independent checks of what hidden_states holds
        emb = m.embeddings(x)
        assert torch.equal(out.hidden_states[0], emb)
        h = emb
        for layer in m.encoder.layer[:2]:
            h = layer(h)
        assert torch.equal(out.hidden_states[2], h)
        assert torch.equal(m.layernorm(out.hidden_states[-1]), out.last_hidden_state)
        assert torch.equal(out.last_hidden_state[:, 0], out.pooler_output)
        return r

    with torch.no_grad():
        res = run(model)
    sdpa_diff = check_reload(Dinov2Model, d, run, res)
    files = [save_npy(d / "input.npy", t2np(x))]
    files += [save_npy(d / f"{k}.npy", t2np(v)) for k, v in res.items()]
    gh, gw = hw[0] // 14, hw[1] // 14
    meta = {
        "class": "transformers.Dinov2Model",
        "attn_implementation": "eager (max |eager - sdpa| over the outputs: %.2e)" % sdpa_diff,
        "input": f"input.npy float32 {[N, 3, *hw]} = torch.rand; patch grid {gh}x{gw} "
                 f"(position table {cfg_kwargs['image_size'] // 14}x{cfg_kwargs['image_size'] // 14})",
        "outputs": {
            "pooler.npy": "out = model(pixel_values=x, output_hidden_states=True); out.pooler_output "
                          "(= layernorm(last encoder state)[:, 0], the CLS token)",
            "last_hidden.npy": "out.last_hidden_state (after the final layernorm; CLS first, then patches row-major)",
        },
        "files": files,
        "safetensors": safetensors_keys(d),
    }
    if shared:
        meta["weights"] = "identical to ../dinov2/ (the same model saved again: config.json, model.safetensors equal)"
    if with_hidden:
        meta["outputs"]["hidden_2.npy"] = ("out.hidden_states[2]: output of encoder.layer[1] (after 2 layers), "
                                           "before the final layernorm; hidden_states[0] = embeddings output")
    write_meta(d, meta)
    return model


DINO_A = dict(hidden_size=32, num_hidden_layers=3, num_attention_heads=4, mlp_ratio=4, patch_size=14,
              image_size=56, layerscale_value=1.0, use_swiglu_ffn=False, qkv_bias=True, layer_norm_eps=1e-6)
DINO_B = dict(DINO_A, hidden_size=48, num_hidden_layers=2, use_swiglu_ffn=True)


# --------------------------------------------------------------------------------------------
# CLIP (full CLIPModel, as the openai/clip-vit-* checkpoints)
# --------------------------------------------------------------------------------------------
def clip_fixture(seed=3):
    d = OUT / "clip"
    torch.manual_seed(seed)
    cfg = CLIPConfig(
        text_config=dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                         vocab_size=100, max_position_embeddings=16, bos_token_id=98, eos_token_id=99,
                         pad_token_id=1),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4,
                           image_size=64, patch_size=16, hidden_act="quick_gelu", layer_norm_eps=1e-5),
        projection_dim=16,
    )
    model = CLIPModel._from_config(cfg, attn_implementation="eager")
    perturb(model, seed)
    model.eval()
    save_model(model, d)
    x = torch.rand(N, 3, 64, 64)

    def run(m):
        vm = m.vision_model
        out = vm(pixel_values=x, output_hidden_states=True)
        pre = vm.pre_layrnorm(vm.embeddings(x))
        assert torch.equal(out.hidden_states[0], pre)
        h = pre
        for layer in vm.encoder.layers[:2]:
            h = layer(h, None)
        assert torch.equal(out.hidden_states[2], h)
        assert torch.equal(out.hidden_states[-1], out.last_hidden_state)
        assert torch.equal(vm.post_layernorm(out.last_hidden_state[:, 0]), out.pooler_output)
        return {"pooler": out.pooler_output, "last_hidden": out.last_hidden_state, "hidden_2": out.hidden_states[2]}

    with torch.no_grad():
        res = run(model)
    sdpa_diff = check_reload(CLIPModel, d, run, res)
    files = [save_npy(d / "input.npy", t2np(x))]
    files += [save_npy(d / f"{k}.npy", t2np(v)) for k, v in res.items()]
    write_meta(d, {
        "class": "transformers.CLIPModel (outputs from its .vision_model, a CLIPVisionModel)",
        "attn_implementation": "eager (max |eager - sdpa| over the outputs: %.2e)" % sdpa_diff,
        "input": f"input.npy float32 {[N, 3, 64, 64]} = torch.rand; patch grid 4x4 (= position table, no interpolation)",
        "outputs": {
            "pooler.npy": "out = model.vision_model(pixel_values=x, output_hidden_states=True); out.pooler_output "
                          "= post_layernorm(last_hidden_state[:, 0]) (no visual_projection)",
            "last_hidden.npy": "out.last_hidden_state: output of the last encoder layer, NO post_layernorm applied",
            "hidden_2.npy": "out.hidden_states[2]: output of encoder.layers[1]; hidden_states[0] = "
                            "pre_layrnorm(embeddings) (the input of layer 0, i.e. AFTER pre_layrnorm)",
        },
        "files": files,
        "safetensors": safetensors_keys(d),
    })


# --------------------------------------------------------------------------------------------
# SAM (full SamModel, as the facebook/sam-vit-* checkpoints)
# --------------------------------------------------------------------------------------------
SAM_VISION = dict(hidden_size=32, num_hidden_layers=4, num_attention_heads=2, mlp_dim=64, image_size=160,
                  patch_size=16, window_size=4, global_attn_indexes=[1, 3], output_channels=16, use_rel_pos=True,
                  use_abs_pos=True, qkv_bias=True, layer_norm_eps=1e-6,
                  num_pos_feats=8)  # shared_image_embedding gives 2*num_pos_feats = prompt hidden size channels


def sam_fixture(seed=4):
    d = OUT / "sam"
    torch.manual_seed(seed)
    cfg = SamConfig(
        vision_config=SamVisionConfig(**SAM_VISION),
        prompt_encoder_config=SamPromptEncoderConfig(hidden_size=16, image_size=160, patch_size=16,
                                                     mask_input_channels=4),
        mask_decoder_config=SamMaskDecoderConfig(hidden_size=16, mlp_dim=16, num_hidden_layers=1,
                                                 num_attention_heads=2, iou_head_depth=2, iou_head_hidden_dim=8),
    )
    model = SamModel._from_config(cfg, attn_implementation="eager")
    assert type(model.vision_encoder.layers[0].attn).__name__ == "SamVisionAttention"  # eager class
    perturb(model, seed)
    model.eval()
    save_model(model, d)
    x = torch.rand(N, 3, 160, 160)

    def run(m):
        emb = m.get_image_embeddings(x)
        ve = m.vision_encoder
        out = ve(x, output_hidden_states=True)
        h = ve.patch_embed(x) + ve.pos_embed
        assert torch.equal(out.hidden_states[0], h)
        for layer in ve.layers[:2]:
            h = layer(h)
        assert torch.equal(out.hidden_states[2], h)
        assert torch.equal(out.last_hidden_state, emb)
        assert torch.equal(ve.neck(out.hidden_states[-1]), emb)
        return {"embeddings": emb, "pooled": emb.mean(dim=(2, 3)), "hidden_2": out.hidden_states[2]}

    with torch.no_grad():
        res = run(model)
        # the tiny prompt encoder / mask decoder must be a working model too
        masks = model(pixel_values=x, input_points=torch.tensor([[[[40.0, 50.0]]], [[[100.0, 20.0]]]])).pred_masks
        assert torch.isfinite(masks).all()
    sdpa_diff = check_reload(SamModel, d, run, res)
    files = [save_npy(d / "input.npy", t2np(x))]
    files += [save_npy(d / f"{k}.npy", t2np(v)) for k, v in res.items()]
    write_meta(d, {
        "class": "transformers.SamModel (outputs from its .vision_encoder, a SamVisionEncoder)",
        "attn_implementation": "eager (max |eager - sdpa| over the outputs: %.2e)" % sdpa_diff,
        "input": f"input.npy float32 {[N, 3, 160, 160]} = torch.rand; patch grid 10x10, window 4 -> padded to 12x12 "
                 "in the windowed layers 0 and 2; layers 1 and 3 global",
        "outputs": {
            "embeddings.npy": "model.get_image_embeddings(x) = vision_encoder(x).last_hidden_state = neck output, "
                              "channels-first (N, 16, 10, 10)",
            "pooled.npy": "embeddings.mean(dim=(2, 3))",
            "hidden_2.npy": "model.vision_encoder(x, output_hidden_states=True).hidden_states[2]: output of "
                            "layers[1], channels-last (N, 10, 10, 32); hidden_states[0] = patch_embed(x) + pos_embed",
        },
        "files": files,
        "safetensors": safetensors_keys(d),
    })


# --------------------------------------------------------------------------------------------
# parameter counts of the real configurations (meta device: nothing allocated)
# --------------------------------------------------------------------------------------------
def param_counts():
    dino = dict(patch_size=14, image_size=518, mlp_ratio=4, layerscale_value=1.0, qkv_bias=True, layer_norm_eps=1e-6)
    clip = dict(hidden_act="quick_gelu", layer_norm_eps=1e-5, image_size=224)
    sam = dict(image_size=1024, patch_size=16, window_size=14, output_channels=256, use_rel_pos=True,
               use_abs_pos=True, qkv_bias=True, layer_norm_eps=1e-6)
    specs = [
        ("dinov2-small", Dinov2Model, Dinov2Config(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, **dino)),
        ("dinov2-base", Dinov2Model, Dinov2Config(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, **dino)),
        ("dinov2-large", Dinov2Model, Dinov2Config(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, **dino)),
        ("dinov2-giant", Dinov2Model, Dinov2Config(hidden_size=1536, num_hidden_layers=40, num_attention_heads=24,
                                                   use_swiglu_ffn=True, **dino)),
        ("clip-vit-base-patch16", CLIPVisionModel, CLIPVisionConfig(hidden_size=768, intermediate_size=3072,
                                                                    num_hidden_layers=12, num_attention_heads=12,
                                                                    patch_size=16, **clip)),
        ("clip-vit-base-patch32", CLIPVisionModel, CLIPVisionConfig(hidden_size=768, intermediate_size=3072,
                                                                    num_hidden_layers=12, num_attention_heads=12,
                                                                    patch_size=32, **clip)),
        ("clip-vit-large-patch14", CLIPVisionModel, CLIPVisionConfig(hidden_size=1024, intermediate_size=4096,
                                                                     num_hidden_layers=24, num_attention_heads=16,
                                                                     patch_size=14, **clip)),
        ("sam-vit-base", SamVisionEncoder, SamVisionConfig(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                                                           mlp_dim=3072, global_attn_indexes=[2, 5, 8, 11], **sam)),
        ("sam-vit-large", SamVisionEncoder, SamVisionConfig(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                                                            mlp_dim=4096, global_attn_indexes=[5, 11, 17, 23], **sam)),
        ("sam-vit-huge", SamVisionEncoder, SamVisionConfig(hidden_size=1280, num_hidden_layers=32, num_attention_heads=16,
                                                           mlp_dim=5120, global_attn_indexes=[7, 15, 23, 31], **sam)),
    ]
    rows = []
    for name, cls, cfg in specs:
        with torch.device("meta"):
            m = cls(cfg)
        n = sum(p.numel() for p in m.parameters())
        print(f"{name:24s} {cls.__name__:18s} {n:>14,d}")
        rows.append({"name": name, "class": f"{cls.__module__}.{cls.__name__}", "config": cfg.to_dict(), "params": n})
    (OUT / "param_counts.json").write_text(json.dumps(rows, indent=1) + "\n")


# --------------------------------------------------------------------------------------------
# preprocessing: PIL open, top-left crop, convert("RGB"), torchvision Resize on the PIL image
# --------------------------------------------------------------------------------------------
def make_images(d):
    rng = np.random.default_rng(20251207)
    # gray: smooth diagonal gradient + a wave + noise, mode L, 131x97 (W x H)
    h, w = 97, 131
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    g = 30 + 180 * (xx / w) * 0.6 + 180 * (yy / h) * 0.4 + 20 * np.sin(xx / 7.0) * np.cos(yy / 5.0)
    g = np.clip(np.rint(g + rng.normal(0, 8, g.shape)), 0, 255).astype(np.uint8)
    Image.fromarray(g, mode="L").save(d / "gray.png")
    # rgb: 90x75, three different smooth patterns + noise, with a few saturated pixels
    h, w = 75, 90
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 255 * xx / (w - 1)
    gch = 128 + 120 * np.sin(yy / 6.0 + xx / 11.0)
    b = 255 * ((xx // 9 + yy // 9) % 2) * 0.7 + 40
    rgb = np.stack([r, gch, b], -1) + rng.normal(0, 10, (h, w, 3))
    rgb = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
    rgb[10:14, 20:24] = [255, 255, 255]
    rgb[40:43, 60:66] = [0, 0, 0]
    Image.fromarray(rgb, mode="RGB").save(d / "rgb.png")
    # rgba: 60x45, colour pattern + varying alpha (0..255), colours stay defined where alpha is 0
    h, w = 45, 60
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    c = np.stack([200 * yy / h + 30, 127 + 100 * np.cos(xx / 4.0), 255 - 200 * xx / w], -1)
    c = c + rng.normal(0, 6, c.shape)
    a = 255 * (xx / (w - 1)) * (0.5 + 0.5 * np.sin(yy / 3.0))
    rgba = np.clip(np.rint(np.concatenate([c, a[..., None]], -1)), 0, 255).astype(np.uint8)
    Image.fromarray(rgba, mode="RGBA").save(d / "rgba.png")


def pil_bilinear_reference(a, h, w):
    """PIL's Image.resize(BILINEAR) for uint8 RGB, written out (checked against PIL below), for the Rust port:
    separable, horizontal pass first (only if the width changes), then vertical (only if the height changes);
    the intermediate image is uint8 (rounded + clamped); fixed-point weights with 22 fraction bits."""
    prec = 22

    def one_pass(a, out_size, axis):
        a = np.moveaxis(a, axis, 0).astype(np.int64)
        in_size = a.shape[0]
        scale = in_size / out_size
        fscale = max(scale, 1.0)  # antialias: the triangle filter widens when downscaling
        support = 1.0 * fscale
        out = np.empty((out_size,) + a.shape[1:], np.int64)
        for i in range(out_size):
            center = (i + 0.5) * scale
            xmin = max(int(center - support + 0.5), 0)
            xmax = min(int(center + support + 0.5), in_size)
            wts = [max(0.0, 1.0 - abs((x - center + 0.5) / fscale)) for x in range(xmin, xmax)]
            tot = sum(wts)
            ks = [int(0.5 + v / tot * (1 << prec)) for v in wts]  # weights are >= 0 for bilinear
            acc = np.full(a.shape[1:], 1 << (prec - 1), np.int64)
            for j, k in enumerate(ks):
                acc += a[xmin + j] * k
            out[i] = np.clip(acc >> prec, 0, 255)
        return np.moveaxis(out.astype(np.uint8), 0, axis)

    if a.shape[1] != w:
        a = one_pass(a, w, 1)
    if a.shape[0] != h:
        a = one_pass(a, h, 0)
    return a


def preprocess_fixtures():
    d = OUT / "preprocess"
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    make_images(d)

    def largest(n, k):
        return n // k * k

    cases = {
        "crop14": lambda W, H: ((0, 0, largest(W, 14), largest(H, 14)), None),
        "sq16_224": lambda W, H: ((0, 0, largest(min(W, H), 16), largest(min(W, H), 16)), (224, 224)),
        "sq14_40": lambda W, H: ((0, 0, largest(min(W, H), 14), largest(min(W, H), 14)), (40, 40)),
        "full_37x23": lambda W, H: (None, (23, 37)),
        "full_up_150x160": lambda W, H: (None, (160, 150)),
    }
    meta = {
        "pipeline": "img = PIL.Image.open(png); img = img.crop(box) if box; img = img.convert('RGB'); "
                    "img = torchvision.transforms.Resize(size)(img) if size (size = (h, w), default "
                    "interpolation BILINEAR, antialias default True; on PIL this is img.resize((w, h), "
                    "Image.BILINEAR)); expected = np.asarray(img) uint8 (H, W, 3)",
        "note": "convert('RGB') of RGBA drops alpha (no compositing); of L replicates the gray value. "
                "scripts/make_vit_fixtures.py:pil_bilinear_reference reproduces every resized case exactly "
                "(fixed-point, horizontal pass then vertical, uint8 in between)",
        "images": {},
        "cases": {},
    }
    files = []
    for img_name in ("gray", "rgb", "rgba"):
        with Image.open(d / f"{img_name}.png") as im0:
            im0.load()
            W, H = im0.size
            meta["images"][f"{img_name}.png"] = {"mode": im0.mode, "width": W, "height": H}
            for case, spec in cases.items():
                box, size = spec(W, H)
                img = im0
                call = f"Image.open('{img_name}.png')"
                if box is not None:
                    img = img.crop(box)
                    call += f".crop({box})"
                img = img.convert("RGB")
                call += ".convert('RGB')"
                if size is not None:
                    img = transforms.Resize(size)(img)
                    call = f"torchvision.transforms.Resize({size})({call})"
                arr = np.asarray(img, dtype=np.uint8)
                assert arr.ndim == 3 and arr.shape[2] == 3
                if size is not None:
                    src = np.asarray((im0.crop(box) if box is not None else im0).convert("RGB"))
                    assert np.array_equal(pil_bilinear_reference(src, *size), arr), (img_name, case)
                fname = f"{img_name}__{case}.npy"
                files.append(save_npy(d / fname, arr))
                meta["cases"][fname] = f"np.asarray({call})  -> {list(arr.shape)}"
    meta["files"] = files
    (d / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    versions = {"torch": torch.__version__, "transformers": transformers.__version__,
                "torchvision": torchvision.__version__, "PIL": PIL.__version__, "numpy": np.__version__}
    (OUT / "versions.json").write_text(json.dumps(versions, indent=1) + "\n")
    print(versions)

    dino_a = dinov2_fixture("dinov2", DINO_A, (70, 98), seed=1)
    dinov2_fixture("dinov2_square", DINO_A, (56, 56), seed=11, with_hidden=False, model=dino_a)
    dinov2_fixture("dinov2_swiglu", DINO_B, (42, 56), seed=2)
    clip_fixture()
    sam_fixture()
    preprocess_fixtures()
    param_counts()


if __name__ == "__main__":
    main()
