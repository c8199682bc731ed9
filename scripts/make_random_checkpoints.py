#!/usr/bin/env python3
"""Random-weight checkpoints of the paper's nine feature extractors, at their real sizes, for
timing `microprop extract` without downloading anything (the time does not depend on the values).

    pip install torch torchvision transformers safetensors
    python3 scripts/make_random_checkpoints.py --out DIR [--models dinov2-small,sam-vit-huge,...]

`cargo xtask bench extract` runs this itself when a checkpoint is missing. Writes, per model,
`DIR/<model>/model.safetensors` + `config.json` in the hub's layout (`save_pretrained`), or
`DIR/micronet-resnet50/model.pth` (a torchvision ResNet-50 state dict, as NASA's MicroNet
weights). Configurations are those of the published checkpoints: facebook/dinov2-{small,base,
large,giant}, openai/clip-vit-{base-patch16,base-patch32,large-patch14} (vision tower),
facebook/sam-vit-huge (image encoder, prompt encoder and mask decoder). Fixed seed; an existing
checkpoint is left as it is.
"""
import argparse
import json
import pathlib

import torch

DINOV2_COMMON = dict(patch_size=14, image_size=518, mlp_ratio=4, layerscale_value=1.0, qkv_bias=True,
                     layer_norm_eps=1e-6)
DINOV2 = {
    "dinov2-small": dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=6),
    "dinov2-base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12),
    "dinov2-large": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16),
    "dinov2-giant": dict(hidden_size=1536, num_hidden_layers=40, num_attention_heads=24, use_swiglu_ffn=True),
}
CLIP_COMMON = dict(image_size=224, hidden_act="quick_gelu", layer_norm_eps=1e-5)
CLIP = {
    "clip-vit-base-patch16": dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                                  num_attention_heads=12, patch_size=16, projection_dim=512),
    "clip-vit-base-patch32": dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                                  num_attention_heads=12, patch_size=32, projection_dim=512),
    "clip-vit-large-patch14": dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                                   num_attention_heads=16, patch_size=14, projection_dim=768),
}
SAM_H = dict(hidden_size=1280, num_hidden_layers=32, num_attention_heads=16, global_attn_indexes=[7, 15, 23, 31],
             image_size=1024, patch_size=16, output_channels=256, window_size=14, use_rel_pos=True,
             mlp_ratio=4.0, qkv_bias=True, use_abs_pos=True, layer_norm_eps=1e-6,
             # transformers initializes SAM with std 1e-10, which makes the activations subnormal
             # and every product 4-5x slower on x86 (torch and microprop alike); trained weights
             # have std ~0.02, as DINOv2's and CLIP's default initializations do.
             initializer_range=0.02)
MODELS = list(DINOV2) + list(CLIP) + ["sam-vit-huge", "micronet-resnet50"]


def build(name):
    """The randomly initialized model, ready for `save_pretrained` (or a state dict)."""
    if name in DINOV2:
        from transformers import Dinov2Config, Dinov2Model
        return Dinov2Model(Dinov2Config(**DINOV2[name], **DINOV2_COMMON))
    if name in CLIP:
        from transformers import CLIPVisionConfig, CLIPVisionModel
        return CLIPVisionModel(CLIPVisionConfig(**CLIP[name], **CLIP_COMMON))
    if name == "sam-vit-huge":
        from transformers import SamConfig, SamModel
        return SamModel(SamConfig(vision_config=SAM_H))
    if name == "micronet-resnet50":
        import torchvision
        return torchvision.models.resnet50()
    raise SystemExit(f"unknown model {name}; known: {', '.join(MODELS)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=pathlib.Path)
    ap.add_argument("--models", default=",".join(MODELS))
    a = ap.parse_args()
    for name in [m for m in a.models.split(",") if m]:
        d = a.out / name
        target = d / ("model.pth" if name == "micronet-resnet50" else "model.safetensors")
        if target.exists():
            print(json.dumps({"model": name, "path": str(target), "made": False}))
            continue
        torch.manual_seed(0)
        with torch.no_grad():
            model = build(name).eval()
        d.mkdir(parents=True, exist_ok=True)
        tmp = d.with_name(d.name + ".partial")
        if name == "micronet-resnet50":
            tmp.mkdir(parents=True, exist_ok=True)
            torch.save(model.state_dict(), tmp / "model.pth")
            (tmp / "model.pth").replace(target)
            tmp.rmdir()
        else:
            # One file (no shards), moved into place last so that its presence means done.
            model.save_pretrained(str(tmp), safe_serialization=True, max_shard_size="100GB")
            for f in sorted(tmp.iterdir(), key=lambda f: f.name == "model.safetensors"):
                f.replace(d / f.name)
            tmp.rmdir()
        params = sum(p.numel() for p in model.parameters())
        print(json.dumps({"model": name, "path": str(target), "made": True, "parameters": params}))


if __name__ == "__main__":
    main()
