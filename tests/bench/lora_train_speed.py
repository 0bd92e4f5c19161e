#!/usr/bin/env python3
"""LoRA training speed and memory: easel-trainer against diffusers + peft, same GPU, same run.

Both train the same full-size SD 1.5-architecture UNet (seeded random weights saved in
diffusers layout; no download) with LoRA rank 4 on to_q/to_k/to_v/to_out.0, AdamW (lr 1e-4,
weight decay 1e-2), batch 1 at 512x512, bf16 frozen base with float32 adapters, on a small
synthetic dataset. Both encode the images and captions once up front (as diffusers' scripts do
with cached latents and precomputed text embeddings) and read the loss every step.

Reported per side: steps/s over the whole training loop, and the CUDA caching allocator's peak
over the whole process (torch.cuda.max_memory_allocated for the reference; the same statistic
from libtorch for easel). It is a side-by-side measurement, not a pass/fail test.

  python3 tests/bench/lora_train_speed.py --trainer build-cuda/trainer/easel-trainer \
      --work /tmp/bench --steps 300 --report docs/bench/lora-train-speed.md
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import torch

SD15_UNET = dict(sample_size=64, cross_attention_dim=768, attention_head_dim=8)
CLIP_L = dict(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
              num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu",
              projection_dim=768, bos_token_id=49406, eos_token_id=49407, pad_token_id=1)
SD_VAE = dict(in_channels=3, out_channels=3, latent_channels=4,
              down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
              block_out_channels=[128, 256, 512, 512], layers_per_block=2, sample_size=512)
SCHEDULER = {"_class_name": "DDPMScheduler", "num_train_timesteps": 1000, "beta_start": 0.00085,
             "beta_end": 0.012, "beta_schedule": "scaled_linear", "prediction_type": "epsilon"}
TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=2)


def make_base_model(root, trainer):
    """SD 1.5 architecture with seeded random weights, in diffusers layout."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel
    torch.manual_seed(0)
    UNet2DConditionModel(**SD15_UNET).save_pretrained(os.path.join(root, "unet"))
    CLIPTextModel(CLIPTextConfig(**CLIP_L)).save_pretrained(os.path.join(root, "text_encoder"))
    AutoencoderKL(**SD_VAE).save_pretrained(os.path.join(root, "vae"))
    os.makedirs(os.path.join(root, "scheduler"), exist_ok=True)
    write_json(os.path.join(root, "scheduler", "scheduler_config.json"), SCHEDULER)
    write_json(os.path.join(root, "model_index.json"), {
        "_class_name": "StableDiffusionPipeline", "scheduler": ["diffusers", "DDPMScheduler"],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"]})
    # A tokenizer for our trainer: the tiny preset's byte-level one (ids fit CLIP-L's table).
    tiny = os.path.join(root, "tiny")
    subprocess.run([trainer, "init-model", "--preset", "tiny", "--output", tiny], check=True,
                   capture_output=True)
    shutil.copytree(os.path.join(tiny, "tokenizer"), os.path.join(root, "tokenizer"))


def make_dataset(root, count, size):
    from PIL import Image
    rng = np.random.default_rng(0)
    images = []
    os.makedirs(os.path.join(root, "images"))
    for i in range(count):
        pixels = (rng.random((size // 8, size // 8, 3)) * 255).astype(np.uint8)
        name = f"images/{i:04d}.png"
        Image.fromarray(pixels).resize((size, size), Image.BICUBIC).save(os.path.join(root, name))
        images.append({"source": f"photo{i}.jpg", "file": name,
                       "caption": f"a photo of TOK, number {i}", "caption_source": "prefix",
                       "width": size, "height": size})
    write_json(os.path.join(root, "manifest.json"),
               {"version": 1, "resolution": size, "images": images, "skipped": [],
                "warnings": []})


def run_easel(args, model, dataset):
    out = os.path.join(args.work, "easel-out")
    spec = os.path.join(args.work, "spec.json")
    write_json(spec, {"method": "lora", "max_train_steps": args.steps, "learning_rate": 1e-4,
                      "lora_rank": 4, "lora_alpha": 4, "train_batch_size": 1,
                      "resolution": args.resolution, "seed": 0, "mixed_precision": "bf16",
                      "progress_every": 50})
    start = time.time()
    done = subprocess.run([args.trainer, "train", "--spec", spec, "--dataset", dataset,
                           "--model", model, "--output", out, "--device", "cuda"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"easel-trainer failed:\n{done.stderr[-4000:]}")
    with open(os.path.join(out, "result.json")) as f:
        result = json.load(f)
    return {"steps_per_second": result["steps_per_second"],
            "peak_bytes": result["peak_device_memory_bytes"],
            "wall_seconds": time.time() - start, "final_loss": result["final_loss"]}


def run_reference(args, model, dataset_dir):
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from peft import LoraConfig
    from PIL import Image
    from transformers import CLIPTextModel

    torch.cuda.reset_peak_memory_stats()
    start = time.time()
    device, weight_dtype = "cuda", torch.bfloat16
    unet = UNet2DConditionModel.from_pretrained(os.path.join(model, "unet"))
    text_encoder = CLIPTextModel.from_pretrained(os.path.join(model, "text_encoder"))
    vae = AutoencoderKL.from_pretrained(os.path.join(model, "vae"))
    scheduler = DDPMScheduler.from_config(SCHEDULER)
    for m in (unet, text_encoder, vae):
        m.requires_grad_(False)

    with open(os.path.join(dataset_dir, "manifest.json")) as f:
        manifest = json.load(f)
    with torch.no_grad():
        text_encoder.to(device)
        vae.to(device)
        latents, hidden = [], []
        gen = torch.Generator().manual_seed(1)
        for entry in manifest["images"]:
            image = np.asarray(Image.open(os.path.join(dataset_dir, entry["file"]))
                               .convert("RGB"), dtype=np.float32) / 127.5 - 1
            pixels = torch.from_numpy(image).permute(2, 0, 1)[None].to(device)
            latents.append(vae.encode(pixels).latent_dist.sample() * vae.config.scaling_factor)
            ids = torch.randint(0, 49406, (1, 77), generator=gen)
            hidden.append(text_encoder(ids.to(device)).last_hidden_state)
        latents, hidden = torch.cat(latents), torch.cat(hidden)
        text_encoder.cpu()
        vae.cpu()

    unet.to(device, dtype=weight_dtype)
    unet.add_adapter(LoraConfig(r=4, lora_alpha=4, init_lora_weights="gaussian",
                                target_modules=TARGETS))
    params = [p for p in unet.parameters() if p.requires_grad]
    for p in params:
        p.data = p.data.float()
    optimizer = torch.optim.AdamW(params, lr=1e-4, weight_decay=1e-2)
    unet.train()

    torch.cuda.synchronize()
    loop_start = time.time()
    for step in range(args.steps):
        index = torch.randint(0, latents.shape[0], (1,), device=device)
        x0, cond = latents[index], hidden[index].to(weight_dtype)
        noise = torch.randn_like(x0)
        t = torch.randint(0, 1000, (1,), device=device)
        with torch.autocast("cuda", dtype=weight_dtype):
            pred = unet(scheduler.add_noise(x0, noise, t).to(weight_dtype), t, cond).sample
        loss = torch.nn.functional.mse_loss(pred.float(), noise.float())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        loss_value = loss.item()
    torch.cuda.synchronize()
    loop = time.time() - loop_start
    return {"steps_per_second": args.steps / loop, "peak_bytes": torch.cuda.max_memory_allocated(),
            "wall_seconds": time.time() - start, "final_loss": loss_value}


def write_report(path, args, ours, reference, command):
    import diffusers
    import peft
    gib = lambda b: b / 2**30  # noqa: E731
    lines = [
        "# LoRA training speed: easel-trainer against diffusers",
        "",
        "Full-size SD 1.5 UNet (seeded random weights), LoRA rank 4 on to_q/to_k/to_v/to_out.0,",
        f"AdamW lr 1e-4, batch 1 at {args.resolution}x{args.resolution}, bf16 base with float32 "
        f"adapters, {args.steps} steps, latents and text embeddings computed once up front, the "
        "loss read every step. Reference: diffusers' UNet2DConditionModel with a peft LoRA "
        "adapter under torch.autocast (as diffusers' training scripts run it). Peak memory: the "
        "CUDA caching allocator's peak over the whole process.",
        "",
        f"GPU: {torch.cuda.get_device_name(0)}; torch {torch.__version__}, diffusers "
        f"{diffusers.__version__}, peft {peft.__version__}.",
        "",
        "```sh",
        command,
        "```",
        "",
        "| trainer | steps/s | peak GPU memory | whole run (s) |",
        "|---|---:|---:|---:|",
        f"| easel-trainer (C++) | {ours['steps_per_second']:.2f} | "
        f"{gib(ours['peak_bytes']):.2f} GiB | {ours['wall_seconds']:.0f} |",
        f"| diffusers + peft (Python) | {reference['steps_per_second']:.2f} | "
        f"{gib(reference['peak_bytes']):.2f} GiB | {reference['wall_seconds']:.0f} |",
        "",
        f"Speed ratio easel / diffusers: "
        f"{ours['steps_per_second'] / reference['steps_per_second']:.2f}x.",
    ]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trainer", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--resolution", type=int, default=512)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--report")
    parser.add_argument("--command", help="the command line to print in the report")
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    model, dataset = os.path.join(args.work, "model"), os.path.join(args.work, "dataset")
    make_base_model(model, args.trainer)
    make_dataset(dataset, args.images, args.resolution)
    ours = run_easel(args, model, dataset)
    print("easel", json.dumps(ours), flush=True)
    reference = run_reference(args, model, dataset)
    print("diffusers", json.dumps(reference), flush=True)
    if args.report:
        write_report(args.report, args, ours, reference, args.command or " ".join(sys.argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
