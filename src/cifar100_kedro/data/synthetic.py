"""A deterministic, learnable stand-in for CIFAR-100 in the official archive format.

Each superclass has its own background colour family and stripe frequency; each of its five
classes draws a different foreground pattern (horizontal, vertical or diagonal stripes, a
checkerboard or rings) in its own colour. A CNN can learn the classes, and, as on the real
data, the 20 superclasses are easier than the 100 classes (colour alone gives the
superclass). Position, phase, brightness and pixel noise vary per image so the task is not
trivial.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cifar100_kedro.data.cifar_format import write_archive
from cifar100_kedro.data.labels import (
    COARSE_LABEL_NAMES,
    FINE_LABEL_NAMES,
    FINE_TO_COARSE,
    SUPERCLASSES,
)

IMAGE_SIZE = 32


def _palette(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Background colour per superclass and foreground colour per class (0-255 RGB).

    Backgrounds are 20 well-separated points of a 3-level RGB grid (the superclass trait);
    each class has its own random foreground colour.
    """
    rng = np.random.default_rng(seed)
    levels = (0.15, 0.5, 0.85)
    grid = [(r, g, b) for r in levels for g in levels for b in levels]
    # Drop the greys (equal channels) and the most central colours: 20 distinct hues remain.
    grid = [c for c in grid if len(set(c)) > 1]
    grid.sort(key=lambda c: -np.ptp(c))
    backgrounds = np.array(grid[:20])
    foregrounds = rng.uniform(0.05, 0.95, size=(100, 3))
    return backgrounds * 255.0, foregrounds * 255.0


def _pattern_masks(
    pattern: int, frequency: float, count: int, rng: np.random.Generator
) -> np.ndarray:
    """``count`` soft masks (count×32×32, values in [0, 1]) of one pattern with random phase."""
    coords = np.arange(IMAGE_SIZE, dtype=np.float32)
    yy, xx = np.meshgrid(coords, coords, indexing="ij")
    shift_y = rng.uniform(-4, 4, size=(count, 1, 1)).astype(np.float32)
    shift_x = rng.uniform(-4, 4, size=(count, 1, 1)).astype(np.float32)
    y, x = yy[None] + shift_y, xx[None] + shift_x
    phase = rng.uniform(0, 2 * np.pi, size=(count, 1, 1)).astype(np.float32)
    omega = 2 * np.pi * frequency / IMAGE_SIZE
    if pattern == 0:
        wave = np.sin(omega * y + phase)
    elif pattern == 1:
        wave = np.sin(omega * x + phase)
    elif pattern == 2:
        wave = np.sin(omega * (x + y) / np.sqrt(2) + phase)
    elif pattern == 3:
        wave = np.sin(omega * x + phase) * np.sin(omega * y + phase)
    else:
        centre = IMAGE_SIZE / 2
        wave = np.sin(omega * np.hypot(x - centre, y - centre) + phase)
    # Shifted so the pattern covers about a third of the image: the background dominates.
    return 1.0 / (1.0 + np.exp(-6.0 * (wave - 0.4)))


def _class_images(
    fine_label: int,
    count: int,
    backgrounds: np.ndarray,
    foregrounds: np.ndarray,
    noise: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """``count`` images of one class as uint8 count×32×32×3."""
    coarse = int(FINE_TO_COARSE[fine_label])
    pattern = SUPERCLASSES[COARSE_LABEL_NAMES[coarse]].index(FINE_LABEL_NAMES[fine_label])
    frequency = 2.0 + (coarse % 4)
    mask = _pattern_masks(pattern, frequency, count, rng)[..., None]
    jitter = rng.normal(0, 10, size=(count, 1, 1, 3)).astype(np.float32)
    background = backgrounds[coarse].astype(np.float32) + jitter
    foreground = foregrounds[fine_label].astype(np.float32) + jitter
    brightness = rng.uniform(0.85, 1.15, size=(count, 1, 1, 1)).astype(np.float32)
    images = (background * (1 - mask) + foreground * mask) * brightness
    images += rng.normal(0, noise, size=images.shape).astype(np.float32)
    return np.clip(images, 0, 255).astype(np.uint8)


def generate_split(images_per_class: int, seed: int, noise: float = 20.0) -> dict[bytes, object]:
    """One split (``train`` or ``test`` pickle payload) with ``images_per_class`` per class."""
    if images_per_class < 1:
        raise ValueError(f"images_per_class must be at least 1, got {images_per_class}")
    rng = np.random.default_rng(seed)
    backgrounds, foregrounds = _palette(seed=12345)  # one palette for every split
    per_class = [
        _class_images(label, images_per_class, backgrounds, foregrounds, noise, rng)
        for label in range(len(FINE_LABEL_NAMES))
    ]
    images = np.concatenate(per_class)  # N×32×32×3
    fine = np.repeat(np.arange(len(FINE_LABEL_NAMES)), images_per_class)
    order = rng.permutation(len(fine))
    images, fine = images[order], fine[order]
    # Official rows are channel-major: 1024 red, then 1024 green, then 1024 blue values.
    data = np.ascontiguousarray(images.transpose(0, 3, 1, 2).reshape(len(fine), -1))
    return {
        b"data": data,
        b"fine_labels": fine.tolist(),
        b"coarse_labels": FINE_TO_COARSE[fine].tolist(),
        b"filenames": [
            f"synthetic_{FINE_LABEL_NAMES[f]}_{i:06d}.png".encode() for i, f in enumerate(fine)
        ],
        b"batch_label": b"synthetic batch 1 of 1",
    }


def write_synthetic_archive(
    path: str | os.PathLike,
    train_images_per_class: int = 500,
    test_images_per_class: int = 100,
    seed: int = 0,
    noise: float = 20.0,
) -> Path:
    """Write a synthetic ``cifar-100-python.tar.gz`` (official format) to ``path``."""
    train = generate_split(train_images_per_class, seed=seed, noise=noise)
    test = generate_split(test_images_per_class, seed=seed + 1, noise=noise)
    meta = {
        b"fine_label_names": [name.encode() for name in FINE_LABEL_NAMES],
        b"coarse_label_names": [name.encode() for name in COARSE_LABEL_NAMES],
    }
    return write_archive(path, train=train, test=test, meta=meta)
