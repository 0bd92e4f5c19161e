#!/usr/bin/env python3
"""Compares easel's C++ models with diffusers / transformers on the same weights and inputs.

Each case builds a model with diffusers or transformers from a config, seeded random weights
(every 1-D parameter, i.e. biases and norm scales, perturbed so that a loader that skips one is
caught), saves it in diffusers layout, runs the reference forward and
`easel-trainer forward` on the same inputs, and compares.

  full  cases: full-size SD 1.5 / SD 2.1 / SDXL UNets, CLIP-L, OpenCLIP-bigG with projection,
               the SD VAE; fp32 (TF32 off) and bf16 on CUDA; a Markdown report.
  tiny  cases: the same architectures at toy sizes on CPU in fp32; written as golden folders
               (config, weights, inputs, expected outputs) that the CPU test suite replays.

Error measures, per output tensor, relative to the output's scale so that values near zero do
not blow them up: max = max |ours - reference| / max |reference|; rms = ||ours - reference|| /
||reference||. fp32 passes at max <= 1e-4. bf16 passes when ours (bf16 against the fp32
reference) has an rms error no larger than the reference library's own bf16-vs-fp32 rms error;
the report also says whether our bf16 output equals the library's bit for bit.

Usage (where torch, diffusers and transformers import):
  python3 tools/parity.py --trainer build/trainer/easel-trainer --work /tmp/parity \
      [--full --report docs/parity.md] [--tiny --golden tests/data/parity] [--cases a,b]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import torch
from safetensors.torch import load_file, save_file

FP32_LIMIT = 1e-4
LORA_ROWS = []

# The random LoRAs of the interop check: (variant, target modules). "attention+conv" adapts,
# LoCon-style, every kind of UNet convolution too (resnets' conv1 / conv2 / conv_shortcut,
# SD 1.x's 1x1 proj_in / proj_out, the samplers' "conv", conv_in and conv_out).
ATTENTION_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]
LORA_VARIANTS = [
    ("attention", ATTENTION_TARGETS),
    ("attention+conv", ATTENTION_TARGETS + ["conv1", "conv2", "conv_shortcut", "proj_in",
                                            "proj_out", "conv", "conv_in", "conv_out"]),
]

# ---------------------------------------------------------------------------------------------
# Configurations. Full sizes are those of the released checkpoints' config.json files.

SD15_UNET = dict(sample_size=64, cross_attention_dim=768, attention_head_dim=8)
SD21_UNET = dict(sample_size=96, cross_attention_dim=1024, attention_head_dim=[5, 10, 20, 20],
                 use_linear_projection=True, upcast_attention=True)
SDXL_UNET = dict(sample_size=128, cross_attention_dim=2048,
                 down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
                 up_block_types=["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
                 block_out_channels=[320, 640, 1280], attention_head_dim=[5, 10, 20],
                 transformer_layers_per_block=[1, 2, 10], use_linear_projection=True,
                 addition_embed_type="text_time", addition_time_embed_dim=256,
                 projection_class_embeddings_input_dim=2816)
CLIP_L = dict(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
              num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu",
              projection_dim=768, bos_token_id=49406, eos_token_id=49407, pad_token_id=1)
CLIP_BIGG = dict(vocab_size=49408, hidden_size=1280, intermediate_size=5120,
                 num_hidden_layers=32, num_attention_heads=20, max_position_embeddings=77,
                 hidden_act="gelu", projection_dim=1280, bos_token_id=49406, eos_token_id=49407,
                 pad_token_id=1)
SD_VAE = dict(in_channels=3, out_channels=3, latent_channels=4,
              down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
              block_out_channels=[128, 256, 512, 512], layers_per_block=2, sample_size=512)

TINY_UNET = dict(sample_size=16, block_out_channels=[16, 32], layers_per_block=1,
                 down_block_types=["CrossAttnDownBlock2D", "DownBlock2D"],
                 up_block_types=["UpBlock2D", "CrossAttnUpBlock2D"], cross_attention_dim=24,
                 attention_head_dim=2, norm_num_groups=8)
TINY_SD21_UNET = dict(TINY_UNET, use_linear_projection=True, attention_head_dim=[2, 4],
                      down_block_types=["CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
                      up_block_types=["CrossAttnUpBlock2D", "CrossAttnUpBlock2D"])
TINY_SDXL_UNET = dict(sample_size=16, block_out_channels=[16, 32, 32], layers_per_block=1,
                      down_block_types=["DownBlock2D", "CrossAttnDownBlock2D",
                                        "CrossAttnDownBlock2D"],
                      up_block_types=["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
                      cross_attention_dim=24, attention_head_dim=[1, 2, 4],
                      transformer_layers_per_block=[1, 2, 3], use_linear_projection=True,
                      addition_embed_type="text_time", addition_time_embed_dim=8,
                      projection_class_embeddings_input_dim=16 + 6 * 8, norm_num_groups=8)
TINY_CLIP = dict(vocab_size=1000, hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                 num_attention_heads=4, max_position_embeddings=77, hidden_act="quick_gelu",
                 projection_dim=32, bos_token_id=996, eos_token_id=997, pad_token_id=1)
TINY_CLIP_PROJECTION = dict(TINY_CLIP, hidden_act="gelu", projection_dim=16)
TINY_VAE = dict(SD_VAE, block_out_channels=[16, 32], layers_per_block=1, norm_num_groups=8,
                down_block_types=["DownEncoderBlock2D"] * 2,
                up_block_types=["UpDecoderBlock2D"] * 2, sample_size=32)


# ---------------------------------------------------------------------------------------------
# Cases: (name, component, builder, inputs maker, reference runner).

def perturb(model, generator):
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 1:
                noise = torch.randn(p.shape, generator=generator, device=p.device, dtype=p.dtype)
                p.add_(0.1 * noise)
    return model


def build_unet(config):
    from diffusers import UNet2DConditionModel
    return UNet2DConditionModel(**config)


def build_clip(config, with_projection):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection
    cls = CLIPTextModelWithProjection if with_projection else CLIPTextModel
    return cls(CLIPTextConfig(**config))


def build_vae(config):
    from diffusers import AutoencoderKL
    return AutoencoderKL(**config)


def unet_inputs(config, batch, size, generator):
    cross = config["cross_attention_dim"]
    inputs = {
        "sample": torch.randn(batch, 4, size, size, generator=generator),
        "timestep": torch.tensor([999, 10, 500, 1][:batch], dtype=torch.int64),
        "encoder_hidden_states": torch.randn(batch, 77, cross, generator=generator),
    }
    if config.get("addition_embed_type") == "text_time":
        pooled = config["projection_class_embeddings_input_dim"] - 6 * config[
            "addition_time_embed_dim"]
        inputs["text_embeds"] = torch.randn(batch, pooled, generator=generator)
        inputs["time_ids"] = torch.tensor([[1024, 1024, 0, 0, 1024, 1024],
                                           [768, 512, 16, 8, 1024, 1024]][:batch],
                                          dtype=torch.float32)
    return inputs


def clip_inputs(config, generator):
    """Two prompts: a short one padded with the pad id and a full-length one. Where the
    vocabulary has ids above EOS (as added textual-inversion tokens do), the second prompt holds
    one, so pooling by argmax instead of at the EOS position would show."""
    vocab, bos, eos, pad = (config[k] for k in
                            ("vocab_size", "bos_token_id", "eos_token_id", "pad_token_id"))
    ids = torch.randint(2, min(bos, eos), (2, 77), generator=generator)
    ids[:, 0] = bos
    ids[0, 9] = eos
    ids[0, 10:] = pad
    ids[1, 76] = eos
    if vocab - 1 > max(bos, eos):
        ids[1, 40] = vocab - 1
    return {"input_ids": ids}


def vae_inputs(pixels, generator):
    return {
        "pixels": torch.rand(1, 3, pixels, pixels, generator=generator) * 2 - 1,
        "latents": torch.randn(1, 4, pixels // 8, pixels // 8, generator=generator),
    }


def run_unet(model, inputs):
    added = None
    if "text_embeds" in inputs:
        added = {"text_embeds": inputs["text_embeds"], "time_ids": inputs["time_ids"]}
    out = model(inputs["sample"], inputs["timestep"], inputs["encoder_hidden_states"],
                added_cond_kwargs=added).sample
    return {"sample": out}


def clip_transformer(model):
    """The module that returns pooler_output and hidden_states (transformers has moved it
    between releases): model.text_model where it exists, else the first child that is not
    the projection, else the model itself."""
    if hasattr(model, "text_model"):
        return model.text_model
    if hasattr(model, "text_projection"):
        return next(m for name, m in model.named_children() if name != "text_projection")
    return model


def run_clip(model, inputs):
    out = clip_transformer(model)(input_ids=inputs["input_ids"], output_hidden_states=True)
    result = {"last_hidden_state": out.last_hidden_state, "pooler_output": out.pooler_output,
              "penultimate_hidden_state": out.hidden_states[-2]}
    if hasattr(model, "text_projection"):
        result["text_embeds"] = model.text_projection(out.pooler_output)
    return result


def run_vae(model, inputs):
    dist = model.encode(inputs["pixels"]).latent_dist
    return {"latent_mean": dist.mean, "latent_logvar": dist.logvar,
            "decoded": model.decode(inputs["latents"]).sample}


def make_cases(tiny):
    g = lambda seed: torch.Generator().manual_seed(seed)  # noqa: E731
    if tiny:
        return [
            ("tiny_sd15_unet", "unet", lambda: build_unet(TINY_UNET),
             lambda: unet_inputs(TINY_UNET, 2, 16, g(1)), run_unet),
            ("tiny_sd21_unet", "unet", lambda: build_unet(TINY_SD21_UNET),
             lambda: unet_inputs(TINY_SD21_UNET, 2, 16, g(2)), run_unet),
            ("tiny_sdxl_unet", "unet", lambda: build_unet(TINY_SDXL_UNET),
             lambda: unet_inputs(TINY_SDXL_UNET, 2, 16, g(3)), run_unet),
            ("tiny_clip", "text_encoder", lambda: build_clip(TINY_CLIP, False),
             lambda: clip_inputs(TINY_CLIP, g(4)), run_clip),
            ("tiny_clip_projection", "text_encoder",
             lambda: build_clip(TINY_CLIP_PROJECTION, True),
             lambda: clip_inputs(TINY_CLIP_PROJECTION, g(5)), run_clip),
            ("tiny_vae", "vae", lambda: build_vae(TINY_VAE), lambda: vae_inputs(32, g(6)),
             run_vae),
        ]
    return [
        ("sd15_unet", "unet", lambda: build_unet(SD15_UNET),
         lambda: unet_inputs(SD15_UNET, 2, 64, g(1)), run_unet),
        ("sd21_unet", "unet", lambda: build_unet(SD21_UNET),
         lambda: unet_inputs(SD21_UNET, 2, 64, g(2)), run_unet),
        ("sdxl_unet", "unet", lambda: build_unet(SDXL_UNET),
         lambda: unet_inputs(SDXL_UNET, 2, 64, g(3)), run_unet),
        ("clip_l", "text_encoder", lambda: build_clip(CLIP_L, False),
         lambda: clip_inputs(CLIP_L, g(4)), run_clip),
        ("clip_bigg_projection", "text_encoder", lambda: build_clip(CLIP_BIGG, True),
         lambda: clip_inputs(CLIP_BIGG, g(5)), run_clip),
        ("sd_vae", "vae", lambda: build_vae(SD_VAE), lambda: vae_inputs(256, g(6)), run_vae),
    ]


# ---------------------------------------------------------------------------------------------

def relative_error(ours, reference):
    reference = reference.float().cpu()
    scale = reference.abs().max().item()
    return (ours.float().cpu() - reference).abs().max().item() / max(scale, 1e-30)


def rms_error(ours, reference):
    reference = reference.float().cpu()
    return ((ours.float().cpu() - reference).norm() / reference.norm().clamp_min(1e-30)).item()


def to_device(tensors, device, dtype):
    return {k: (v.to(device, dtype) if v.is_floating_point() else v.to(device))
            for k, v in tensors.items()}


def easel_forward(trainer, component, model_dir, inputs_path, output_path, device, dtype,
                  extra=()):
    command = [trainer, "forward", "--component", component, "--dir", model_dir, "--inputs",
               inputs_path, "--output", output_path, "--device", device, "--dtype", dtype,
               *extra]
    start = time.time()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return load_file(output_path), time.time() - start


def target_modules(model, target):
    """Paths of the linear and conv layers that a LoRA target names (the path is the target or
    ends with "." + target), as easel and peft match them."""
    return [path for path, module in model.named_modules()
            if isinstance(module, (torch.nn.Linear, torch.nn.Conv2d))
            and (path == target or path.endswith("." + target))]


def kohya_unmapped_targets(unet, targets):
    """The targets whose kohya keys (lora_unet_<path with '_'>) diffusers' kohya converter, as
    load_lora_weights runs it (lora_state_dict, then convert_unet_state_dict_to_peft), does not
    map back onto the layers they came from. Probed on every layer of each target with dummy
    tensors, so that a diffusers release that lacks a mapping (older ones left conv_in /
    conv_out as "conv.in" / "conv.out") leaves that target out of the kohya file rather than
    failing the comparison."""
    from diffusers.loaders import StableDiffusionLoraLoaderMixin as loader
    from diffusers.utils.state_dict_utils import convert_unet_state_dict_to_peft
    unmapped = []
    for target in targets:
        paths = target_modules(unet, target)
        probe = {}
        for path in paths:
            name = "lora_unet_" + path.replace(".", "_")
            probe[name + ".lora_down.weight"] = torch.zeros(1, 1)
            probe[name + ".lora_up.weight"] = torch.zeros(1, 1)
            probe[name + ".alpha"] = torch.tensor(1.0)
        try:
            converted, _ = loader.lora_state_dict(probe)
            peft = convert_unet_state_dict_to_peft(
                {k.removeprefix("unet."): v for k, v in converted.items()})
            mapped = {k.removesuffix(".lora_A.weight") for k in peft
                      if k.endswith(".lora_A.weight")}
        except Exception as e:  # noqa: BLE001 - any failure means "not loadable"
            print(f"kohya probe of {target} failed: {e}", flush=True)
            mapped = set()
        if not paths or mapped != set(paths):
            unmapped.append(target)
    return unmapped


def check_lora_interop(name, case_dir, inputs, expected, args, device):
    """Our forward with a random LoRA of each variant that we write in each key style, against
    diffusers' UNet with that file loaded the way load_lora_weights loads it (fp32)."""
    from diffusers import UNet2DConditionModel
    from diffusers.loaders import StableDiffusionLoraLoaderMixin as loader
    rows = []
    for variant, variant_targets in LORA_VARIANTS:
        for style in ("diffusers", "kohya"):
            unet = UNet2DConditionModel.from_pretrained(case_dir).to(device).eval()
            targets = [t for t in variant_targets if target_modules(unet, t)]
            left_out = [t for t in variant_targets if t not in targets]
            if style == "kohya":
                unmapped = kohya_unmapped_targets(unet, targets)
                targets = [t for t in targets if t not in unmapped]
                left_out += [f"{t} (diffusers' kohya converter cannot map it)" for t in unmapped]
            tag = f"{style}_{variant.replace('+', '_')}"
            lora_path = os.path.join(case_dir, f"lora_{tag}.safetensors")
            ours, _ = easel_forward(args.trainer, "unet", case_dir,
                                    os.path.join(case_dir, "inputs.safetensors"),
                                    os.path.join(case_dir, f"ours_lora_{tag}.safetensors"),
                                    device, "float32",
                                    ["--random-lora-rank", "4", "--save-lora", lora_path,
                                     "--lora-style", style, "--lora-targets", ",".join(targets)])
            state_dict, alphas, metadata = loader.lora_state_dict(lora_path,
                                                                  return_lora_metadata=True)
            loader.load_lora_into_unet(state_dict, network_alphas=alphas, unet=unet,
                                       adapter_name="easel", metadata=metadata)
            with torch.no_grad():
                theirs = run_unet(unet, to_device(inputs, device, torch.float32))["sample"].cpu()
            rows.append(dict(case=name, variant=variant, style=style, targets=targets,
                             left_out=left_out,
                             error=relative_error(ours["sample"], theirs),
                             lora_effect=relative_error(theirs, expected["sample"]),
                             tensors=len(state_dict)))
            rows[-1]["passed"] = (rows[-1]["error"] <= FP32_LIMIT and
                                  rows[-1]["lora_effect"] > 1e-3)
            print(json.dumps(rows[-1]), flush=True)
            del unet
    return rows


def run_case(case, args, device, dtypes):
    name, component, build, make_inputs, reference = case
    torch.manual_seed(0)
    case_dir = os.path.join(args.work, name)
    shutil.rmtree(case_dir, ignore_errors=True)
    os.makedirs(case_dir)
    model = build()
    perturb(model, torch.Generator().manual_seed(7))
    model.eval()
    model.save_pretrained(case_dir)
    print(name, "saved:", sorted(os.listdir(case_dir)), "first keys:",
          list(model.state_dict())[:2], flush=True)
    inputs = make_inputs()
    inputs_path = os.path.join(case_dir, "inputs.safetensors")
    save_file({k: v.contiguous() for k, v in inputs.items()}, inputs_path)

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    model.to(device, torch.float32)
    with torch.no_grad():
        expected = {k: v.float().cpu() for k, v in
                    reference(model, to_device(inputs, device, torch.float32)).items()}
    rows = []
    for dtype_name in dtypes:
        dtype = getattr(torch, dtype_name)
        library_error = library_rms = identical = None
        if dtype != torch.float32:
            model.to(device, dtype)
            with torch.no_grad():
                theirs = reference(model, to_device(inputs, device, dtype))
            library_error = max(relative_error(theirs[k], expected[k]) for k in expected)
            library_rms = max(rms_error(theirs[k], expected[k]) for k in expected)
            theirs = {k: v.float().cpu() for k, v in theirs.items()}
        ours, seconds = easel_forward(args.trainer, component, case_dir, inputs_path,
                                      os.path.join(case_dir, f"ours_{dtype_name}.safetensors"),
                                      device, dtype_name)
        missing = sorted(set(expected) - set(ours))
        if missing:
            raise RuntimeError(f"{name}: easel produced no {missing}")
        errors = {k: relative_error(ours[k], expected[k]) for k in expected}
        worst = max(errors.values())
        rms = max(rms_error(ours[k], expected[k]) for k in expected)
        if library_rms is None:
            passed = worst <= FP32_LIMIT
        else:
            passed = rms <= library_rms
            identical = all(torch.equal(ours[k], theirs[k]) for k in expected)
        rows.append(dict(case=name, dtype=dtype_name, errors=errors, worst=worst, rms=rms,
                         library_error=library_error, library_rms=library_rms, identical=identical,
                         passed=passed,
                         seconds=seconds))
        print(json.dumps(rows[-1]), flush=True)
    params = sum(p.numel() for p in model.parameters())
    del model
    if name in args.lora_cases:
        LORA_ROWS.extend(check_lora_interop(name, case_dir, inputs, expected, args, device))
    if device == "cuda":
        torch.cuda.empty_cache()
    return case_dir, expected, rows, params


def write_golden(case, case_dir, expected, golden_root):
    name = case[0]
    target = os.path.join(golden_root, name)
    shutil.rmtree(target, ignore_errors=True)
    os.makedirs(target)
    for entry in os.listdir(case_dir):
        if entry.endswith(".json") or (entry.endswith(".safetensors") and
                                       not entry.startswith(("ours_", "lora_"))):
            shutil.copy(os.path.join(case_dir, entry), target)
    save_file({k: v.contiguous() for k, v in expected.items()},
              os.path.join(target, "expected.safetensors"))
    with open(os.path.join(target, "case.json"), "w") as f:
        json.dump({"component": case[1], "tolerance": FP32_LIMIT}, f, indent=2)
        f.write("\n")


def versions():
    import diffusers
    import transformers
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return (f"torch {torch.__version__}, diffusers {diffusers.__version__}, "
            f"transformers {transformers.__version__}, GPU {gpu}")


def write_report(path, rows, params, command):
    lines = [
        "# Model parity with diffusers and transformers",
        "",
        "Our C++ models against the reference libraries on the same seeded random weights and",
        "inputs, at full size on the GPU, worst output of each model shown.",
        "max = max |ours - reference| / max |reference|; rms = ||ours - reference|| / ||reference||.",
        "fp32 (TF32 off) passes at max <= 1e-4. bf16 is compared with the fp32 reference, next to",
        "the reference library's own bf16 run, and passes when our rms error is no larger than the",
        "library's. \"same bits\" says whether our bf16 output equals the library's bit for bit:",
        "the same kernels in the same order give the same rounding.",
        "",
        f"Versions: {versions()}.",
        "",
        "Command:",
        "",
        "```sh",
        command,
        "```",
        "",
        "| model | parameters | dtype | ours max | ours rms | library max | library rms "
        "| same bits | seconds (load + forward) | result |",
        "|---|---:|---|---:|---:|---:|---:|---|---:|---|",
    ]
    for row in rows:
        fmt = lambda v: "—" if v is None else f"{v:.2e}"  # noqa: E731
        lines.append(
            f"| {row['case']} | {params[row['case']] / 1e6:.0f} M | {row['dtype']} | "
            f"{fmt(row['worst'])} | {fmt(row['rms'])} | {fmt(row['library_error'])} | "
            f"{fmt(row['library_rms'])} | "
            f"{'—' if row['identical'] is None else ('yes' if row['identical'] else 'no')} | "
            f"{row['seconds']:.1f} | "
            f"{'pass' if row['passed'] else 'FAIL'} |")
    if LORA_ROWS:
        lines += ["", "## LoRA files in diffusers' loader", "",
                  "A seeded random LoRA (rank 4, alpha 8) written by `easel-trainer forward",
                  "--random-lora-rank --lora-targets` in each key style, on the attention",
                  "projections and, LoCon-style, on the UNet's convolutions as well (4-D",
                  "adapters: a kxk down conv and a 1x1 up conv), loaded into diffusers' UNet",
                  "with `StableDiffusionLoraLoaderMixin.lora_state_dict` + `load_lora_into_unet`",
                  "(what `load_lora_weights` runs); error of our output with the LoRA against",
                  "diffusers' with the file loaded (fp32), and how much the LoRA moved the",
                  "output (so the check is not vacuous).", "",
                  "| model | key style | targets | tensors | error | LoRA effect | result |",
                  "|---|---|---|---:|---:|---:|---|"]
        for row in LORA_ROWS:
            lines.append(f"| {row['case']} | {row['style']} | {', '.join(row['targets'])} | "
                         f"{row['tensors']} | {row['error']:.2e} | {row['lora_effect']:.2e} | "
                         f"{'pass' if row['passed'] else 'FAIL'} |")
        for row in LORA_ROWS:
            if row["left_out"]:
                lines += ["", f"{row['case']}, {row['variant']}, {row['style']}: left out "
                          f"{'; '.join(row['left_out'])}."]
    lines += ["", "Per output (fp32):", ""]
    for row in rows:
        if row["dtype"] == "float32":
            detail = ", ".join(f"{k} {v:.1e}" for k, v in sorted(row["errors"].items()))
            lines.append(f"- {row['case']}: {detail}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trainer", required=True, help="path to easel-trainer")
    parser.add_argument("--work", required=True, help="scratch directory")
    parser.add_argument("--full", action="store_true", help="full-size cases on CUDA")
    parser.add_argument("--report", help="Markdown report of the full cases")
    parser.add_argument("--tiny", action="store_true", help="tiny cases on CPU")
    parser.add_argument("--golden", help="write the tiny cases as golden folders here")
    parser.add_argument("--cases", help="comma-separated case names (default: all)")
    parser.add_argument("--command", help="the command line to print in the report")
    parser.add_argument("--lora-cases", default="sd15_unet,tiny_sd15_unet",
                        help="cases whose LoRA files are also loaded into diffusers")
    args = parser.parse_args()
    args.lora_cases = set(args.lora_cases.split(","))
    os.makedirs(args.work, exist_ok=True)
    wanted = set(args.cases.split(",")) if args.cases else None
    failed = []
    if args.tiny:
        for case in make_cases(tiny=True):
            if wanted and case[0] not in wanted:
                continue
            case_dir, expected, rows, _ = run_case(case, args, "cpu", ["float32"])
            failed += [r["case"] for r in rows if not r["passed"]]
            if args.golden:
                write_golden(case, case_dir, expected, args.golden)
    if args.full:
        rows, params = [], {}
        for case in make_cases(tiny=False):
            if wanted and case[0] not in wanted:
                continue
            _, _, case_rows, params[case[0]] = run_case(case, args, "cuda",
                                                        ["float32", "bfloat16"])
            rows += case_rows
            failed += [r["case"] + "/" + r["dtype"] for r in case_rows if not r["passed"]]
        if args.report:
            write_report(args.report, rows, params, args.command or " ".join(sys.argv))
    failed += [f"{r['case']}/lora-{r['variant']}-{r['style']}" for r in LORA_ROWS
               if not r["passed"]]
    print("parity:", "FAILED " + ", ".join(failed) if failed else "all cases pass")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
