#!/usr/bin/python3
"""Writes the example dataset: six drawn photos of one object ("TOK") and a caption.csv, zipped.

Usage: make_example_dataset.py OUTPUT.zip
"""
import io
import random
import sys
import zipfile

from PIL import Image, ImageDraw

SIZES = [(96, 80), (64, 64), (120, 90), (48, 72), (80, 80), (100, 60)]
BACKGROUNDS = [(70, 130, 180), (240, 230, 140), (144, 238, 144), (250, 128, 114), (200, 200, 200), (255, 222, 173)]


def photo(index, size):
    rng = random.Random(index)
    width, height = size
    image = Image.new("RGB", size, BACKGROUNDS[index])
    draw = ImageDraw.Draw(image)
    # The subject: a red mug with a handle, at a different place and scale in each photo.
    scale = rng.uniform(0.35, 0.6) * min(width, height)
    x = rng.uniform(0.2, 0.8) * width - scale / 2
    y = rng.uniform(0.2, 0.8) * height - scale / 2
    draw.rectangle([x, y, x + scale * 0.7, y + scale], fill=(200, 30, 40), outline=(90, 10, 10))
    draw.ellipse([x + scale * 0.6, y + scale * 0.25, x + scale, y + scale * 0.75], outline=(200, 30, 40), width=3)
    return image


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    captions = {1: "a photo of TOK on a table", 3: "a photo of TOK, seen from the side", 5: "a close-up photo of TOK"}
    with zipfile.ZipFile(sys.argv[1], "w") as archive:
        rows = ["image_file,caption"]
        for index, size in enumerate(SIZES):
            name = f"mug_{index + 1}.{'png' if index % 2 else 'jpg'}"
            buffer = io.BytesIO()
            photo(index, size).save(buffer, format="PNG" if index % 2 else "JPEG", quality=92)
            archive.writestr(name, buffer.getvalue())
            if index in captions:
                rows.append(f'{name},"{captions[index]}"')
        archive.writestr("caption.csv", "\n".join(rows) + "\n")
    print(sys.argv[1])


if __name__ == "__main__":
    main()
