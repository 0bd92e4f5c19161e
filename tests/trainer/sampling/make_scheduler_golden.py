#!/usr/bin/env python3
"""Writes testdata/diffusers_schedulers.json: diffusers' DDIMScheduler (eta 0) and
EulerDiscreteScheduler run on fixed inputs, for scheduler_golden_test.cc to replay.

Each case: a scheduler config, a step count, a start sample and one model output per step.
Recorded: set_timesteps' timesteps, init_noise_sigma, Euler's sigmas, and per step the scaled
model input, prev_sample and pred_original_sample, with the sample carried from step to step.
Cases whose outputs are not finite (epsilon prediction at a zero-SNR timestep) are left out.

Usage, where torch and numpy import:
  python3 make_scheduler_golden.py                      # with diffusers installed
  python3 make_scheduler_golden.py --diffusers-src DIR  # from a diffusers checkout's source
The second runs the two scheduler modules from DIR/src/diffusers/schedulers with stand-ins for
the package plumbing they import (config registration, the output dataclass).
"""

import argparse
import inspect
import json
import math
import os
import random
import re
import types

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def load_from_source(src_dir):
    def register_to_config(init):
        signature = inspect.signature(init)

        def wrapper(self, *args, **kwargs):
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            fields = dict(bound.arguments)
            fields.pop("self")
            self.config = types.SimpleNamespace(**fields)
            init(self, *args, **kwargs)

        return wrapper

    class Output:
        def __init__(self, **fields):
            self.__dict__.update(fields)

    class ConfigMixin:
        pass

    class SchedulerMixin:
        pass

    names = dict(register_to_config=register_to_config, ConfigMixin=ConfigMixin,
                 SchedulerMixin=SchedulerMixin,
                 BaseOutput=Output, KarrasDiffusionSchedulers=[], randn_tensor=None,
                 is_scipy_available=lambda: False,
                 logging=types.SimpleNamespace(get_logger=lambda name: None))
    classes = {}
    for module, name in (("scheduling_ddim", "DDIMScheduler"),
                         ("scheduling_euler_discrete", "EulerDiscreteScheduler")):
        path = os.path.join(src_dir, "src", "diffusers", "schedulers", module + ".py")
        text = open(path).read()
        text = re.sub(r"^from \.[\w.]* import \([^)]*\)\n", "", text, flags=re.M)
        text = re.sub(r"^from \.[\w.]* import .*\n", "", text, flags=re.M)
        text = text.replace("@dataclass\n", "")
        scope = dict(names)
        exec(compile(text, path, "exec"), scope)
        classes[name] = scope[name]
    return classes["DDIMScheduler"], classes["EulerDiscreteScheduler"]


def cases():
    base = {"num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012,
            "beta_schedule": "scaled_linear"}
    grid = []
    for kind in ("ddim", "euler"):
        for spacing, offset in (("leading", 1), ("trailing", 0), ("linspace", 0)):
            for prediction in ("epsilon", "v_prediction"):
                for zero_snr in (False, True):
                    config = dict(base, timestep_spacing=spacing, steps_offset=offset,
                                  prediction_type=prediction, rescale_betas_zero_snr=zero_snr)
                    if kind == "ddim":
                        config.update(clip_sample=False, set_alpha_to_one=False)
                    grid.append((kind, config, 7))
    grid += [
        ("euler", dict(base, beta_schedule="linear", beta_start=0.0001, beta_end=0.02), 25),
        ("euler", dict(base, final_sigmas_type="sigma_min", timestep_spacing="trailing"), 9),
        ("ddim", dict(base, beta_schedule="squaredcos_cap_v2", clip_sample=False,
                      timestep_spacing="trailing", prediction_type="v_prediction"), 10),
        ("ddim", dict(base, clip_sample=True, set_alpha_to_one=True, steps_offset=1), 5),
    ]
    return grid


def f32(values):
    return [float(repr(np.float32(v))) for v in np.asarray(values, dtype=np.float32).ravel()]


def run(ddim, euler):
    rng = random.Random(0)
    out = []
    for kind, config, steps in cases():
        scheduler = (ddim if kind == "ddim" else euler)(**config)
        scheduler.set_timesteps(steps)
        sample = torch.tensor([rng.gauss(0, 1) for _ in range(4)]).view(1, 4, 1, 1)
        sample = sample * float(scheduler.init_noise_sigma)
        case = {"kind": kind, "config": config, "num_inference_steps": steps,
                "timesteps": scheduler.timesteps.double().tolist(),
                "init_noise_sigma": f32([float(scheduler.init_noise_sigma)])[0],
                "sample": f32(sample), "steps": []}
        if kind == "euler":
            case["sigmas"] = f32(scheduler.sigmas)
        finite = True
        for t in scheduler.timesteps:
            output = torch.tensor([rng.gauss(0, 1) for _ in range(4)]).view(1, 4, 1, 1)
            scaled = scheduler.scale_model_input(sample, t)
            result = scheduler.step(output, t, sample)
            record = {"model_output": f32(output), "scaled": f32(scaled),
                      "prev_sample": f32(result.prev_sample),
                      "pred_original_sample": f32(result.pred_original_sample)}
            finite = finite and all(math.isfinite(v) for r in record.values() for v in r)
            case["steps"].append(record)
            sample = result.prev_sample
        if finite:
            out.append(case)
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--diffusers-src")
    parser.add_argument("--commit", default="", help="diffusers commit, recorded in the file")
    parser.add_argument("--out", default=os.path.join(HERE, "testdata", "diffusers_schedulers.json"))
    args = parser.parse_args()
    if args.diffusers_src:
        ddim, euler = load_from_source(args.diffusers_src)
        version = "source " + (args.commit or args.diffusers_src)
    else:
        import diffusers
        ddim, euler = diffusers.DDIMScheduler, diffusers.EulerDiscreteScheduler
        version = diffusers.__version__
    document = {"generator": "tests/trainer/sampling/make_scheduler_golden.py",
                "diffusers": version, "torch": torch.__version__, "numpy": np.__version__,
                "cases": run(ddim, euler)}
    with open(args.out, "w") as f:
        json.dump(document, f, indent=None, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {len(document['cases'])} cases to {args.out}")


if __name__ == "__main__":
    main()
