"""The size of each deliberate difference from the LAMP reference code, measured on a base (docs/MODEL.md).

    python -m benchmarks.reference_differences                 # the shipped tiny base, CPU, seconds
    python -m benchmarks.reference_differences --base PATH     # any SD 1.x base lamp loads

Each row computes lamp's choice and the reference's on the same tensors and prints the largest absolute
difference (and what it is relative to). Nothing of the reference code is used: its behaviour is written
out here from its description, in a line or two per row.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from lamp_core.model import InflationConfig, load_base
from lamp_core.model.temporal_attention import TemporalSelfAttention
from lamp_core.sampling import SamplingConfig, adain, build_video_unet, encode_frames, render_first_frame
from lamp_core.sampling.lamp_sampler import _denoise, encode_prompts, shared_noise


def _reference_adain(content: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    # The reference normalises by sqrt(variance + 1e-8) instead of lamp's (std + 1e-5).
    dims = (-2, -1)
    c_mean, r_mean = content.mean(dims, keepdim=True), reference.mean(dims, keepdim=True)
    c_std = (content.var(dims, keepdim=True, correction=0) + 1e-8).sqrt()
    r_std = (reference.var(dims, keepdim=True, correction=0) + 1e-8).sqrt()
    return (content - c_mean) / c_std * r_std + r_mean


def measure(base_source: str, seed: int = 0) -> list[tuple[str, str, str]]:
    """Rows of (difference, measured size, relative to what)."""
    torch.manual_seed(seed)
    base = load_base(base_source)
    side = base.vae.config.sample_size
    frames = 8
    first_image = render_first_frame("slide_right", 1000, side, side).image
    first = encode_frames(base.vae, first_image[None])[:, :, None]  # (1, C, 1, h, w)
    text = encode_prompts(base, ["a shape sliding right"], torch.device("cpu"))
    rows = []

    # 1. Temporal attention's output bias: lamp zeroes it; the reference zeroes only the weight.
    unet = build_video_unet(base, InflationConfig.paper(), seed=seed)
    video = first.expand(-1, -1, frames, -1, -1) + 0.5 * torch.randn(
        1, first.shape[1], frames, *first.shape[3:]
    )
    with torch.no_grad():
        fresh = unet(video, 500, text)
        for module in unet.modules():
            if isinstance(module, TemporalSelfAttention):
                bias = module.attention.to_out[0].bias
                bound = 1.0 / np.sqrt(module.attention.to_out[0].in_features)  # torch's Linear default init
                bias.uniform_(-bound, bound)
        reference_init = unet(video, 500, text)
    rows.append(
        (
            "temporal attention's output bias zero-initialised (reference: torch's default init)",
            f"{(reference_init - fresh).abs().max().item():.3g}",
            f"noise prediction, std {fresh.std().item():.2f}; lamp's fresh model is the image UNet",
        )
    )

    # 2-3. AdaIN's epsilon and the reference's extra AdaIN after the loop, on a real sampling run.
    for module in unet.modules():
        if isinstance(module, TemporalSelfAttention):
            module.reset_motion()
    config = SamplingConfig.paper(num_inference_steps=25)
    noise = shared_noise([seed], (first.shape[1], frames - 1, *first.shape[3:]), config.shared_noise_weight)
    guided = torch.cat([encode_prompts(base, [""], torch.device("cpu")), text])
    latents = _denoise(unet, base, first, noise, guided, config, torch.device("cpu"), None)
    generated = latents[:, :, 1:]
    rows.append(
        (
            "AdaIN epsilon: std + 1e-5 (reference: sqrt(variance + 1e-8))",
            f"{(adain(generated, first) - _reference_adain(generated, first)).abs().max().item():.2g}",
            f"final latents, std {generated.std().item():.2f}",
        )
    )
    rows.append(
        (
            "no extra AdaIN after the loop (the reference applies the last phase once more)",
            f"{(adain(generated, first) - generated).abs().max().item():.2g}",
            "final latents: the last step already applied the same AdaIN",
        )
    )

    # 4. Decoding to 8 bits: lamp rounds, the reference truncates.
    with torch.no_grad():
        pixels = (
            base.vae.decode(latents[0].transpose(0, 1) / base.vae.config.scaling_factor).sample + 1
        ) * 127.5
    rounded = pixels.round().clamp(0, 255)
    gap = rounded - pixels.clamp(0, 255).floor()
    rows.append(
        (
            "8-bit decoding rounds (reference: truncates)",
            f"max {gap.abs().max().item():.0f}, mean {gap.mean().item():.2f}",
            "levels of 255 (truncation darkens by half a level on average)",
        )
    )

    # 5. First-frame latent: the VAE's mean (reference: a sample of its distribution).
    pixels = torch.from_numpy(first_image).permute(2, 0, 1)[None].float() / 127.5 - 1.0
    with torch.no_grad():
        dist = base.vae.encode(pixels).latent_dist
        mean_image = base.vae.decode(dist.mean).sample
        sample_image = base.vae.decode(dist.sample(torch.Generator().manual_seed(seed))).sample
    scale = base.vae.config.scaling_factor
    mse = ((mean_image - sample_image) / 2).square().mean().item()
    rows.append(
        (
            "first frame encoded as the VAE's mean (reference: a sample)",
            f"{((dist.sample() - dist.mean) * scale).abs().max().item():.2g} in latents, "
            f"{10 * np.log10(1 / mse):.1f} dB PSNR between the two decodings",
            f"scaled latents, std {(dist.mean * scale).std().item():.2f}",
        )
    )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="models/tiny-sd")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print(f"base: {args.base}")
    print("| difference | measured | of |")
    print("|---|---|---|")
    for name, size, of in measure(args.base, args.seed):
        print(f"| {name} | {size} | {of} |")


if __name__ == "__main__":
    main()
