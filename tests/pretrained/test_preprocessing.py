"""Images reach the pretrained models exactly as in the paper's code: torchvision's Resize(size,
BICUBIC) and CenterCrop(size) for Stable Diffusion, ADM's centre crop for DiT, then ToTensor and
Normalize(0.5, 0.5). Checked against both written out from their documented arithmetic (torchvision
itself does not install beside this torch), on sizes where rounding decides a pixel."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("diffusers")

from toyclf.pretrained.images import preprocess_images


def picture(width: int, height: int, seed: int = 0) -> Image.Image:
    x, y = np.meshgrid(np.linspace(0, 1, width), np.linspace(0, 1, height))  # smooth, so a shifted crop shows
    rng = np.random.default_rng(seed)
    pixels = np.stack([x, y, (x + y) / 2], -1) * 200 + rng.integers(0, 55, (height, width, 3))
    return Image.fromarray(pixels.astype(np.uint8))


def to_tensor_normalized(image: Image.Image) -> torch.Tensor:
    """torchvision's ToTensor (uint8 / 255, HWC -> CHW) and Normalize([0.5], [0.5]), written out."""
    return (torch.from_numpy(np.array(image)).permute(2, 0, 1).float() / 255 - 0.5) / 0.5


def torchvision_resize_center_crop(image: Image.Image, size: int) -> torch.Tensor:
    """transforms.Resize(size, InterpolationMode.BICUBIC) then transforms.CenterCrop(size), from
    torchvision's documentation and _compute_resized_output_size / center_crop."""
    w, h = image.size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size, int(size * long / short)
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    if (new_w, new_h) != (w, h):
        image = image.resize((new_w, new_h), Image.BICUBIC)
    crop_top = int(round((new_h - size) / 2.0))  # noqa: RUF046 (as torchvision writes it)
    crop_left = int(round((new_w - size) / 2.0))  # noqa: RUF046
    return to_tensor_normalized(image.crop((crop_left, crop_top, crop_left + size, crop_top + size)))


def adm_center_crop_arr(image: Image.Image, size: int) -> torch.Tensor:
    """ADM's center_crop_arr (guided-diffusion's image_datasets.py), used by the paper's DiT script."""
    while min(*image.size) >= 2 * size:
        image = image.resize(tuple(x // 2 for x in image.size), resample=Image.BOX)
    scale = size / min(*image.size)
    image = image.resize(tuple(round(x * scale) for x in image.size), resample=Image.BICUBIC)
    arr = np.array(image)
    crop_y, crop_x = (arr.shape[0] - size) // 2, (arr.shape[1] - size) // 2
    return to_tensor_normalized(Image.fromarray(arr[crop_y : crop_y + size, crop_x : crop_x + size]))


SIZES = [(400, 300), (300, 400), (683, 512), (171, 128), (128, 128), (97, 61), (1030, 700)]


@pytest.mark.parametrize("width, height", SIZES)
def test_stable_diffusion_images_are_preprocessed_as_the_paper_does(width, height):
    image = picture(width, height)
    got = preprocess_images([image], 128)[0]
    torch.testing.assert_close(got, torchvision_resize_center_crop(image, 128), rtol=0, atol=0)


@pytest.mark.parametrize("width, height", SIZES)
def test_dit_images_are_preprocessed_as_the_papers_dit_script(width, height):
    image = picture(width, height)
    got = preprocess_images([image], 64, method="adm_center_crop")[0]
    torch.testing.assert_close(got, adm_center_crop_arr(image, 64), rtol=0, atol=0)


def test_the_crop_rounds_its_offset_as_torchvision_does():
    """683 x 512 to 512: the crop starts at round(171 / 2) = 86 (half to even), not 85 (floor)."""
    image = picture(683, 512)
    got = preprocess_images([image], 512)[0]
    by_hand = to_tensor_normalized(image.crop((86, 0, 86 + 512, 512)))
    torch.testing.assert_close(got, by_hand, rtol=0, atol=0)


def test_each_backend_preprocesses_as_its_paper_script(tiny_models):
    from toyclf.pretrained import load_denoiser

    image = picture(97, 61)
    sd = load_denoiser(tiny_models["sd"], ["cat", "dog"])
    dit = load_denoiser(tiny_models["dit"], ["tench", "goldfish"])
    torch.testing.assert_close(sd.preprocess([image])[0], torchvision_resize_center_crop(image, sd.image_size))
    torch.testing.assert_close(dit.preprocess([image])[0], adm_center_crop_arr(image, dit.image_size))


def test_an_unknown_method_is_refused():
    with pytest.raises(
        ValueError, match="method must be one of 'bicubic_center_crop', 'adm_center_crop'; got 'lanczos'"
    ):
        preprocess_images([picture(10, 10)], 8, method="lanczos")
