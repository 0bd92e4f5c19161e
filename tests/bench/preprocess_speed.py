#!/usr/bin/python3
"""Preprocessing speed: easel-preprocess against a Pillow loop, same photos, same run.

Generates 200 photo-like images of mixed sizes (seeded: smooth gradients, soft shapes and
sensor-like noise, so they compress like photos) -- mostly JPEG (some with an EXIF orientation
tag), some PNG and WebP, from about 300x200 up to 6000x4000, landscape and portrait -- and a
stored zip of them. Then, alternating the three so that drift on a shared machine hits each
alike, it runs N times (median reported):

  * easel-preprocess --archive photos.zip --resolution 512 --crop-based-on-salience false
    (centre crops; the whole process: read the zip, decode, crop, resize, PNG-encode, write
    the manifest; it uses one thread per core);
  * the Pillow reference, one /usr/bin/python3 process doing the same work on the same zip in a
    plain loop, as cog-sdxl's preprocess.py does it: read the entry's bytes from the zip,
    Image.open, ImageOps.exif_transpose, convert("RGB"), centre square crop,
    resize((512, 512), Image.LANCZOS) (shrinking and enlarging alike, as cog-sdxl's
    _crop_to_square), save PNG with Pillow's defaults;
  * the same reference with Image.draft("RGB", (512, 512)) before decoding, so libjpeg decodes
    a JPEG at 1/2, 1/4 or 1/8 scale while its shorter side stays >= 512 (easel's DCT scaling
    picks the same factor for a centre square crop).

Each side is timed as a whole process (wall clock, plus its user+system CPU seconds). Both
outputs are checked afterwards: 200 PNGs of 512x512, and the two sides' pixels close (the same
crop, the same orientation). It is a side-by-side measurement, not a pass/fail test.

Needs Debian's Pillow (python3-pil) and numpy (python3-numpy): run it with /usr/bin/python3.

  /usr/bin/python3 tests/bench/preprocess_speed.py --preprocess build/preprocess/easel-preprocess \
      --work /tmp/preprocess-bench --report docs/bench/preprocess-speed.md
"""

import argparse
import io
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
import zipfile

try:
    import numpy as np
    from PIL import Image, ImageDraw, ImageOps
    import PIL
except ImportError as error:
    sys.exit(f"preprocess_speed.py needs Pillow and numpy ({error}). Run it with Debian's "
             "/usr/bin/python3 (apt-get install python3-pil python3-numpy); the python3 first on "
             f"PATH here is {sys.executable}, which may lack them.")

RESOLUTION = 512
TARGET_RATIO = 3.0
GENERATOR_VERSION = 1  # bump when the generated photos change, so old work dirs are remade

# (weight, candidate sizes as landscape width x height); a third of each class is turned portrait.
SIZE_CLASSES = [
    (0.20, None),  # small: random, 300x200 up to 1280x960
    (0.30, [(1600, 1200), (1920, 1080), (2048, 1536), (2400, 1600), (2560, 1440)]),
    (0.38, [(3264, 2448), (4000, 3000), (4032, 3024), (4000, 2250)]),
    (0.12, [(5472, 3648), (6000, 4000)]),
]
PNG_MAX_SIDE = 2560   # a noisy 24-megapixel PNG would pass the 64 MiB per-file archive limit
WEBP_MAX_SIDE = 4032
EXIF_ORIENTATIONS = [6, 8, 3, 6]  # 6 and 8 are what phones write most


# ---------------------------------------------------------------------------------------------
# The photos


def photo_pixels(rng, width, height):
    """Smooth colour gradients, a few soft-edged shapes, and sensor-like noise."""
    grid = rng.integers(20, 236, size=(rng.integers(3, 7), rng.integers(3, 7), 3), dtype=np.uint8)
    small_w, small_h = max(8, width // 8), max(8, height // 8)
    base = Image.fromarray(grid, "RGB").resize((small_w, small_h), Image.BICUBIC)
    draw = ImageDraw.Draw(base)
    for _ in range(int(rng.integers(3, 9))):
        x0, y0 = int(rng.integers(0, small_w)), int(rng.integers(0, small_h))
        x1 = x0 + int(rng.integers(small_w // 10 + 1, small_w // 2 + 2))
        y1 = y0 + int(rng.integers(small_h // 10 + 1, small_h // 2 + 2))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        else:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
    pixels = np.asarray(base.resize((width, height), Image.BILINEAR), dtype=np.int16)
    # Fine texture: noise of a few levels, some of it at half resolution (grain, foliage).
    coarse = rng.integers(-6, 7, size=((height + 1) // 2, (width + 1) // 2, 1), dtype=np.int16)
    pixels += np.repeat(np.repeat(coarse, 2, axis=0), 2, axis=1)[:height, :width]
    pixels += rng.integers(-4, 5, size=(height, width, 3), dtype=np.int16)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def pick_size(rng):
    weights = [w for w, _ in SIZE_CLASSES]
    kind = int(rng.choice(len(SIZE_CLASSES), p=np.array(weights) / sum(weights)))
    sizes = SIZE_CLASSES[kind][1]
    if sizes is None:
        width = int(rng.integers(300, 1281))
        height = int(width * rng.uniform(0.6, 0.8))
        height = max(height, 200)
    else:
        width, height = sizes[int(rng.integers(len(sizes)))]
    return (height, width) if rng.random() < 1 / 3 else (width, height)


def make_photos(work, count, seed):
    """Writes count photos under work/photos and a stored zip of them; returns their list."""
    rng = np.random.default_rng(seed)
    folder = os.path.join(work, "photos")
    os.makedirs(folder)
    photos = []
    for i in range(count):
        width, height = pick_size(rng)  # upright size
        roll = rng.random()
        if roll < 0.12 and max(width, height) <= PNG_MAX_SIDE:
            fmt = "png"
        elif roll < 0.22 and max(width, height) <= WEBP_MAX_SIDE:
            fmt = "webp"
        else:
            fmt = "jpg"
        orientation = 1
        if fmt == "jpg" and rng.random() < 0.25:
            orientation = EXIF_ORIENTATIONS[int(rng.integers(len(EXIF_ORIENTATIONS)))]
        image = photo_pixels(rng, width, height)
        # Store the pixels as a camera would: sideways (or upside down) plus the tag that rights
        # them. Image.transpose by the inverse of what exif_transpose applies.
        stored = {1: image, 3: image.transpose(Image.ROTATE_180),
                  6: image.transpose(Image.ROTATE_90), 8: image.transpose(Image.ROTATE_270)}
        stored = stored[orientation]
        name = f"IMG_{i:04d}.{fmt}"
        path = os.path.join(folder, name)
        if fmt == "jpg":
            exif = Image.Exif()
            exif[0x010F] = "Easel bench camera"  # Make
            if orientation != 1:
                exif[0x0112] = orientation  # Orientation
            stored.save(path, "JPEG", quality=int(rng.integers(82, 96)), exif=exif.tobytes())
        elif fmt == "png":
            stored.save(path, "PNG")
        else:
            stored.save(path, "WEBP", quality=int(rng.integers(80, 93)))
        photos.append({"name": name, "format": fmt, "width": width, "height": height,
                       "orientation": orientation, "bytes": os.path.getsize(path)})
    with zipfile.ZipFile(os.path.join(work, "photos.zip"), "w", zipfile.ZIP_STORED) as archive:
        for photo in photos:
            archive.write(os.path.join(folder, photo["name"]), photo["name"])
    return photos


def ensure_photos(work, count, seed):
    stamp_path = os.path.join(work, "photos.json")
    stamp = {"generator": GENERATOR_VERSION, "count": count, "seed": seed}
    if os.path.exists(stamp_path) and os.path.exists(os.path.join(work, "photos.zip")):
        with open(stamp_path) as f:
            saved = json.load(f)
        if saved.get("stamp") == stamp:
            print(f"reusing the photos in {work} (same generator, count and seed)", flush=True)
            return saved["photos"]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    start = time.time()
    photos = make_photos(work, count, seed)
    with open(stamp_path, "w") as f:
        json.dump({"stamp": stamp, "photos": photos}, f)
    print(f"generated {count} photos in {time.time() - start:.0f} s", flush=True)
    return photos


# ---------------------------------------------------------------------------------------------
# The Pillow reference (run in its own process: --reference-run)


def center_square(image):
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return image.crop((left, top, left + side, top + side))


def reference_run(archive_path, output, resolution, draft):
    os.makedirs(output)
    with zipfile.ZipFile(archive_path) as archive:
        names = sorted(info.filename for info in archive.infolist() if not info.is_dir())
        for index, name in enumerate(names):
            image = Image.open(io.BytesIO(archive.read(name)))
            if draft:
                image.draft("RGB", (resolution, resolution))
            image = ImageOps.exif_transpose(image)
            image = image.convert("RGB")
            image = center_square(image).resize((resolution, resolution), Image.LANCZOS)
            image.save(os.path.join(output, f"{index:04d}.png"))


# ---------------------------------------------------------------------------------------------
# Timing


def timed(command):
    """Runs command; returns (wall seconds, user+system CPU seconds of the child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({done.returncode}):\n{done.stdout[-2000:]}\n"
                           f"{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def easel_command(args, output):
    return [args.preprocess, "--archive", os.path.join(args.work, "photos.zip"), "--output", output,
            "--resolution", str(RESOLUTION), "--crop-based-on-salience", "false"]


def reference_command(args, output, draft):
    command = [sys.executable, os.path.abspath(__file__), "--reference-run",
               "--archive", os.path.join(args.work, "photos.zip"), "--output", output]
    return command + (["--draft"] if draft else [])


def png_sizes(folder):
    sizes = {}
    for name in sorted(os.listdir(folder)):
        if name.endswith(".png"):
            with Image.open(os.path.join(folder, name)) as image:
                sizes[name] = image.size
    return sizes


def folder_bytes(folder):
    return sum(os.path.getsize(os.path.join(folder, n)) for n in os.listdir(folder))


def check_outputs(args, count):
    """Both sides made count PNGs of RESOLUTION squared, of the same crops."""
    easel_images = os.path.join(args.work, "out-easel", "images")
    with open(os.path.join(args.work, "out-easel", "manifest.json")) as f:
        manifest = json.load(f)
    if len(manifest["images"]) != count or manifest["skipped"]:
        raise RuntimeError(f"easel-preprocess used {len(manifest['images'])} of {count} photos; "
                           f"skipped: {manifest['skipped'][:5]}")
    checks = {}
    for side, folder in [("easel", easel_images),
                         ("pillow", os.path.join(args.work, "out-pillow")),
                         ("pillow-draft", os.path.join(args.work, "out-pillow-draft"))]:
        sizes = png_sizes(folder)
        wrong = {n: s for n, s in sizes.items() if s != (RESOLUTION, RESOLUTION)}
        if len(sizes) != count or wrong:
            raise RuntimeError(f"{side}: {len(sizes)} PNGs, of which not {RESOLUTION}x{RESOLUTION}:"
                               f" {list(wrong.items())[:5]}")
        checks[side] = {"images": len(sizes), "bytes": folder_bytes(folder)}
    # Same crop and orientation: the two sides' pixels differ by resampling only. A wrong
    # orientation or a shifted crop of these photos differs by tens of levels.
    worst = 0.0
    diffs = []
    for index in range(count):
        name = f"{index:04d}.png"
        ours = np.asarray(Image.open(os.path.join(easel_images, name)).convert("RGB"), np.float32)
        theirs = np.asarray(Image.open(os.path.join(args.work, "out-pillow", name)), np.float32)
        diff = float(np.abs(ours - theirs).mean())
        diffs.append(diff)
        worst = max(worst, diff)
    if worst > 8:
        raise RuntimeError(f"easel's and Pillow's images differ by up to {worst:.1f} levels on "
                           "average: not the same crops")
    checks["mean_abs_diff"] = {"mean": statistics.mean(diffs), "max": worst}
    return checks


# ---------------------------------------------------------------------------------------------
# Report


def load_average():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def easel_build(preprocess):
    repo = os.path.dirname(os.path.abspath(__file__))
    described = "unknown commit"
    try:
        head = subprocess.run(["git", "-C", repo, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", repo, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
        described = head + (" with uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        pass
    build_type = "unknown"
    cache = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(preprocess))),
                         "CMakeCache.txt")
    if os.path.exists(cache):
        with open(cache) as f:
            for line in f:
                if line.startswith("CMAKE_BUILD_TYPE:"):
                    build_type = line.split("=", 1)[1].strip() or "none"
    return f"{described}, {build_type} build"


def debian_versions(packages):
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Package} ${Version}\\n"] + packages,
                             capture_output=True, text=True).stdout
    except OSError:
        return ""
    return ", ".join(line.strip() for line in out.splitlines() if line.strip())


def summarize(photos):
    formats = {}
    for photo in photos:
        formats[photo["format"]] = formats.get(photo["format"], 0) + 1
    megapixels = [p["width"] * p["height"] / 1e6 for p in photos]
    rotated = sum(1 for p in photos if p["orientation"] != 1)
    portrait = sum(1 for p in photos if p["height"] > p["width"])
    return (f"{len(photos)} photos: {formats.get('jpg', 0)} JPEG ({rotated} with an EXIF "
            f"orientation tag other than 1), {formats.get('png', 0)} PNG, "
            f"{formats.get('webp', 0)} WebP; {portrait} portrait; "
            f"{min(megapixels):.2f} to {max(megapixels):.1f} megapixels "
            f"({sum(megapixels):.0f} in all, median {statistics.median(megapixels):.1f}); "
            f"{sum(p['bytes'] for p in photos) / 2**20:.0f} MiB zipped (stored)")


def write_report(path, args, photos, results, checks, loads, command):
    count = len(photos)
    rows = [("easel-preprocess (C++, OpenCV)", "easel"),
            ("Pillow, plain loop", "pillow"),
            ("Pillow with Image.draft", "pillow-draft")]
    med = {key: statistics.median(r["wall"] for r in results[key]) for _, key in rows}
    cpu = {key: statistics.median(r["cpu"] for r in results[key]) for _, key in rows}
    lines = [
        "# Preprocessing speed: easel-preprocess against Pillow",
        "",
        "The decode + crop + resize path (issue 4): " + summarize(photos) + ". Each side reads "
        f"the same zip and writes {count} PNGs of {RESOLUTION}x{RESOLUTION}, centre-cropped "
        "(`--crop-based-on-salience false`, so both sides cut the same square).",
        "",
        "- easel-preprocess: the whole process -- reads the zip, decodes (libjpeg DCT scaling "
        "for a JPEG much larger than needed), applies EXIF orientation, crops, resizes "
        "(INTER_AREA shrinking, Lanczos enlarging), hashes the pixels for duplicates, "
        "PNG-encodes (OpenCV's defaults: zlib level 1, RLE strategy, the Sub filter), writes "
        "the manifest; one worker thread per core.",
        "- Pillow, plain loop: one Python process doing what cog-sdxl's preprocess.py does, "
        "per zip entry: `Image.open`, `ImageOps.exif_transpose`, `convert(\"RGB\")`, centre "
        "square crop, `resize((512, 512), Image.LANCZOS)` (both ways, as cog-sdxl's "
        "`_crop_to_square`), `save` as PNG with Pillow's defaults (zlib level 6, adaptive "
        "filtering); one thread.",
        "- Pillow with Image.draft: the same loop with `image.draft(\"RGB\", (512, 512))` "
        "before decoding, so libjpeg decodes a large JPEG at 1/2, 1/4 or 1/8 scale (the factor "
        "easel picks for the same crop).",
        "",
        f"Each side ran {args.repeat} times, the three alternating; the table gives the median "
        "wall time of the whole process and its user+system CPU time.",
        "",
        f"Machine: {os.cpu_count()} cores ({cpu_model()}), shared with other work (1-minute "
        f"load average {min(loads):.1f} to {max(loads):.1f} over the runs, this script's own "
        "runs included); "
        f"{platform.system()} {platform.release()}. Python {platform.python_version()}, Pillow "
        f"{PIL.__version__}; easel-preprocess at {easel_build(args.preprocess)}; "
        + debian_versions(["libopencv-imgcodecs406", "libjpeg62-turbo", "libpng16-16",
                           "libwebp7", "zlib1g"]) + ".",
        "",
        "```sh",
        command,
        "```",
        "",
        "| side | images/s | wall (s), median | CPU (s) | all runs, wall (s) | easel / this |",
        "|---|---:|---:|---:|---|---:|",
    ]
    for label, key in rows:
        ratio = "" if key == "easel" else f"{med[key] / med['easel']:.2f}x"
        runs = ", ".join(f"{r['wall']:.1f}" for r in results[key])
        lines.append(f"| {label} | {count / med[key]:.1f} | {med[key]:.1f} | {cpu[key]:.1f} | "
                     f"{runs} | {ratio} |")
    lines += ["", f"Target (issue 4): at least {TARGET_RATIO:g}x the reference's throughput."]
    for label, key in rows[1:]:
        ratio = med[key] / med["easel"]
        verdict = "met" if ratio >= TARGET_RATIO else "not met"
        lines.append(f"- against {label}: {ratio:.2f}x, {verdict}.")
    lines += [
        "",
        f"CPU time a photo: easel {cpu['easel'] / count * 1000:.0f} ms, Pillow "
        f"{cpu['pillow'] / count * 1000:.0f} ms, Pillow with draft "
        f"{cpu['pillow-draft'] / count * 1000:.0f} ms. The ratios above are of wall time, so "
        "they include easel's use of both cores, which the reference loop does not attempt; "
        "by CPU time easel is "
        f"{cpu['pillow'] / cpu['easel']:.2f}x and {cpu['pillow-draft'] / cpu['easel']:.2f}x "
        "cheaper.",
        "",
        f"Checked after the runs: each side wrote {count} PNGs of {RESOLUTION}x{RESOLUTION} "
        f"(easel's manifest lists {count} images and nothing skipped); easel's and the plain "
        f"Pillow loop's pixels differ by {checks['mean_abs_diff']['mean']:.2f} levels on "
        f"average (worst image {checks['mean_abs_diff']['max']:.2f}), resampling differences "
        "only, so both cut the same crops the same way up. Output sizes: easel "
        f"{checks['easel']['bytes'] / 2**20:.1f} MiB of PNG, Pillow "
        f"{checks['pillow']['bytes'] / 2**20:.1f} MiB.",
    ]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


# ---------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preprocess", help="the easel-preprocess binary")
    parser.add_argument("--work", help="working directory (photos, zip, outputs)")
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3, help="runs per side; the median counts")
    parser.add_argument("--report", help="write the Markdown report here")
    parser.add_argument("--command", help="the command line to print in the report")
    # Internal: one run of the Pillow reference.
    parser.add_argument("--reference-run", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--archive", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    parser.add_argument("--draft", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reference_run:
        reference_run(args.archive, args.output, RESOLUTION, args.draft)
        return 0
    if not args.preprocess or not args.work:
        parser.error("--preprocess and --work are required")
    if not os.access(args.preprocess, os.X_OK):
        parser.error(f"{args.preprocess} is not an executable; build it with "
                     "cmake --build build --target easel-preprocess")

    photos = ensure_photos(args.work, args.images, args.seed)
    print(summarize(photos), flush=True)
    with open(os.path.join(args.work, "photos.zip"), "rb") as f:  # into the page cache
        while f.read(1 << 24):
            pass

    outputs = {"easel": os.path.join(args.work, "out-easel"),
               "pillow": os.path.join(args.work, "out-pillow"),
               "pillow-draft": os.path.join(args.work, "out-pillow-draft")}
    commands = {"easel": easel_command(args, outputs["easel"]),
                "pillow": reference_command(args, outputs["pillow"], draft=False),
                "pillow-draft": reference_command(args, outputs["pillow-draft"], draft=True)}
    results = {key: [] for key in outputs}
    loads = [load_average()]
    for run in range(args.repeat):
        for key in outputs:
            shutil.rmtree(outputs[key], ignore_errors=True)
            wall, cpu, _ = timed(commands[key])
            results[key].append({"wall": wall, "cpu": cpu})
            loads.append(load_average())
            print(f"run {run + 1}/{args.repeat} {key}: {wall:.2f} s wall, {cpu:.2f} s CPU, "
                  f"{len(photos) / wall:.1f} images/s", flush=True)

    checks = check_outputs(args, len(photos))
    med = {key: statistics.median(r["wall"] for r in results[key]) for key in results}
    for key in ("pillow", "pillow-draft"):
        ratio = med[key] / med["easel"]
        print(f"easel / {key}: {ratio:.2f}x (target {TARGET_RATIO:g}x: "
              f"{'met' if ratio >= TARGET_RATIO else 'not met'})", flush=True)
    print(json.dumps({"median_wall_s": med, "checks": checks}), flush=True)
    if args.report:
        write_report(args.report, args, photos, results, checks, loads,
                     args.command or "/usr/bin/python3 " + " ".join(sys.argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
