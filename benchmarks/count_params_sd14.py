"""Parameter counts of LAMP's inflation of the SD 1.4 UNet, built on the `meta` device (no memory needed).

Run: `.venv/bin/python benchmarks/count_params_sd14.py` (about 10 s, mostly imports).
Prints the base UNet's size, what inflation adds, and the default trainable set by kind, next to the
method notes' estimate (~254M trainable: temporal convs ~191M, temporal attention ~50M, attn1.to_q ~12M,
gates ~0.5M).
"""

from __future__ import annotations

import torch
from diffusers import UNet2DConditionModel

from lamp_core.model import InflationConfig, LAMPUNet

# SD 1.4's UNet (CompVis/stable-diffusion-v1-4, unet/config.json); the rest are diffusers' defaults.
SD14_UNET = dict(
    sample_size=64,
    in_channels=4,
    out_channels=4,
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    block_out_channels=(320, 640, 1280, 1280),
    layers_per_block=2,
    cross_attention_dim=768,
    attention_head_dim=8,
    norm_num_groups=32,
)

# The method notes' estimate, in millions.
ESTIMATE_M = {"temporal convs": 191.0, "gates": 0.5, "temporal attention": 50.0, "attn1.to_q": 12.0}


def kind_of(name: str) -> str:
    """Which part of the trainable set a parameter name belongs to."""
    for marker, kind in (
        (".temporal_conv.", "temporal convs"),
        (".gate.", "gates"),
        (".temporal_attention.", "temporal attention"),
        (".attn1.to_q.", "attn1.to_q"),
    ):
        if marker in name:
            return kind
    return "other"


def main() -> None:
    with torch.device("meta"):
        unet = UNet2DConditionModel(**SD14_UNET)
    base_total = sum(p.numel() for p in unet.parameters())
    model = LAMPUNet.from_unet2d(unet, InflationConfig.paper())
    total = sum(p.numel() for p in model.parameters())
    by_kind: dict[str, int] = {}
    for name, param in model.named_parameters():
        if param.requires_grad:
            by_kind[kind_of(name)] = by_kind.get(kind_of(name), 0) + param.numel()
    trainable = sum(by_kind.values())
    wrapped = sum(1 for n, _ in model.named_modules() if n.endswith(".temporal_conv"))
    blocks = sum(1 for n, _ in model.named_modules() if n.endswith(".temporal_attention"))

    print(f"SD 1.4 UNet (2D):            {base_total / 1e6:9.2f} M parameters")
    added = (total - base_total) / 1e6
    print(f"LAMP UNet (inflated):        {total / 1e6:9.2f} M parameters (+{added:.2f} M)")
    print(f"  wrapped convs: {wrapped}, transformer blocks with temporal attention: {blocks}")
    print(f"Trainable (default set):     {trainable / 1e6:9.2f} M   (estimate ~254 M)")
    for kind, estimate in ESTIMATE_M.items():
        print(f"  {kind:<24} {by_kind.get(kind, 0) / 1e6:9.2f} M   (estimate ~{estimate:g} M)")
    if by_kind.get("other"):
        print(f"  {'other':<24} {by_kind['other'] / 1e6:9.2f} M")


if __name__ == "__main__":
    main()
