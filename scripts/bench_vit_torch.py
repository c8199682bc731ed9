#!/usr/bin/env python3
"""PyTorch reference timing of a forward pass, random weights, no download: DINOv2 (Hugging Face
`Dinov2Model`, `pooler_output`), CLIP's vision tower (`CLIPVisionModel`, `pooler_output`), SAM's
image encoder (`SamVisionModel`) or ResNet-50 (torchvision `resnet50` with `fc = Identity()`, eval
mode: the pooled 2048 features). Configurations are those of the published checkpoints.

    pip install torch transformers torchvision
    python3 scripts/bench_vit_torch.py --model dinov2-small --size 224 --batch 1 --threads 2 [--device cuda]
    python3 scripts/bench_vit_torch.py --model dinov2-large --height 658 --width 728 --threads 2
    python3 scripts/bench_vit_torch.py --model resnet50 --size 224 --batch 8 --threads 2

Times the forward pass under torch.inference_mode() on torch.rand(batch, 3, height, width) and prints
one JSON line with the median seconds per batch, the process's peak resident memory (MiB)
and its minor page faults per timed pass.
"""
import argparse
import json
import resource
import statistics
import time

import torch

CONFIGS = {  # facebook/dinov2-small, -base and -large
    "dinov2-small": dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=6),
    "dinov2-base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12),
    "dinov2-large": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16),
}
# openai/clip-vit-large-patch14 (vision tower)
CLIP_L = dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
              patch_size=14, image_size=224, hidden_act="quick_gelu", layer_norm_eps=1e-5)
# facebook/sam-vit-huge (image encoder)
SAM_H = dict(hidden_size=1280, num_hidden_layers=32, num_attention_heads=16, global_attn_indexes=[7, 15, 23, 31],
             image_size=1024, patch_size=16, output_channels=256, window_size=14, use_rel_pos=True,
             mlp_ratio=4.0, qkv_bias=True, use_abs_pos=True, layer_norm_eps=1e-6,
             # transformers initializes SAM with std 1e-10, which makes the activations subnormal
             # and every product 4-5x slower on x86 (torch and microprop alike); trained weights
             # have std ~0.02, as DINOv2's and CLIP's default initializations do.
             initializer_range=0.02)
OTHERS = ["clip-vit-large-patch14", "sam-vit-huge", "resnet50"]
COMMON = dict(patch_size=14, image_size=518, mlp_ratio=4, layerscale_value=1.0, qkv_bias=True, layer_norm_eps=1e-6)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=sorted(CONFIGS) + OTHERS, default="dinov2-small")
    ap.add_argument("--size", type=int, default=224, help="square side (see --height/--width)")
    ap.add_argument("--height", type=int, default=None)
    ap.add_argument("--width", type=int, default=None)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    ap.add_argument("--iters", type=int, default=None, help="timed iterations (default: enough for ~5 s)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    a = ap.parse_args()

    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    dev = torch.device(a.device)
    if a.model == "clip-vit-large-patch14":
        from transformers import CLIPVisionConfig, CLIPVisionModel
        net = CLIPVisionModel(CLIPVisionConfig(**CLIP_L)).eval().to(dev)
        forward = lambda x: net(pixel_values=x).pooler_output  # noqa: E731
    elif a.model == "sam-vit-huge":
        from transformers import SamVisionConfig, SamVisionModel
        net = SamVisionModel(SamVisionConfig(**SAM_H)).eval().to(dev)
        forward = lambda x: net(pixel_values=x).last_hidden_state.mean(dim=(2, 3))  # noqa: E731
    elif a.model == "resnet50":
        import torchvision
        net = torchvision.models.resnet50()
        net.fc = torch.nn.Identity()
        net = net.eval().to(dev)
        forward = net
    else:
        from transformers import Dinov2Config, Dinov2Model
        net = Dinov2Model(Dinov2Config(**CONFIGS[a.model], **COMMON)).eval().to(dev)
        forward = lambda x: net(pixel_values=x).pooler_output  # noqa: E731
    h, w = a.height or a.size, a.width or a.size
    x = torch.rand(a.batch, 3, h, w, device=dev)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def once():
        t0 = time.perf_counter()
        forward(x)
        sync()
        return time.perf_counter() - t0

    with torch.inference_mode():
        last = None
        for _ in range(a.warmup):
            last = once()
        if last is None:
            last = once()
        iters = a.iters or max(3, min(1000, round(5.0 / max(last, 1e-6))))
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        times = [once() for _ in range(iters)]
        faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / iters
    med = statistics.median(times)
    print(json.dumps({
        "model": a.model, "size": a.size, "height": h, "width": w, "batch": a.batch, "threads": torch.get_num_threads(),
        "median_s_per_batch": med, "images_per_s": a.batch / med, "torch": torch.__version__,
        "device": a.device, "iters": iters,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "faults_per_pass": faults,
    }))


if __name__ == "__main__":
    main()
