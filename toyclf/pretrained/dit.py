"""DiT (Peebles & Xie 2023) as a classifier: class-conditional on ImageNet label ids (the paper's section 5).

Class names map to the model's label ids through the pipeline's ``id2label`` table (or are given
as ids). The transformer outputs 2C channels, eps and the learned variance; only eps is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from toyclf.pretrained.latent import LatentDenoiser
from toyclf.utils.validation import is_int


def label_ids(classes: Sequence[str | int], labels: dict[str, int], n_labels: int) -> list[int]:
    """The model's label id of every class: names looked up in ``labels``, ints taken as ids."""
    if classes is None or isinstance(classes, str) or len(classes) == 0:
        raise ValueError(f"classes must be a non-empty list of class names or label ids; got {classes!r}.")
    ids = []
    for c in classes:
        if is_int(c, 0) or (isinstance(c, str) and c.isdigit()):
            if not 0 <= int(c) < n_labels:
                raise ValueError(f"label id {c} is outside the model's labels 0 .. {n_labels - 1}.")
            ids.append(int(c))
        elif c in labels:
            ids.append(labels[c])
        else:
            close = [name for name in labels if str(c).lower() in name.lower()][:5]
            raise ValueError(
                f"class {c!r} is not one of the model's labels{'; did you mean ' + repr(close) if close else ''}. "
                "Give label names from the pipeline's id2label table or label ids."
            )
    if len(set(ids)) != len(ids):
        raise ValueError(f"classes must name distinct labels; got {list(classes)} -> ids {ids}.")
    return ids


class DiTDenoiser(LatentDenoiser):
    """A diffusers DiT transformer behind the Denoiser protocol; label id k means the model's label ``ids[k]``."""

    image_preprocessing = "adm_center_crop"  # ADM's resize and crop, as the paper's DiT script (and DiT's training)

    def __init__(self, transformer: Any, vae: Any, scheduler: Any, names: Sequence[str], ids: Sequence[int]):
        super().__init__(transformer, vae, scheduler, [str(n) for n in names])
        self.register_buffer("label_ids", torch.as_tensor(list(ids), dtype=torch.long, device=self.device))

    @property
    def transformer(self) -> Any:
        return self.backbone

    @classmethod
    def from_pipeline(cls, pipeline: Any, classes: Sequence[str | int]) -> DiTDenoiser:
        """From a loaded ``DiTPipeline``: class names (from its ``labels``) or label ids."""
        n_labels = pipeline.transformer.config.num_embeds_ada_norm
        ids = label_ids(classes, pipeline.labels, n_labels)
        return cls(pipeline.transformer, pipeline.vae, pipeline.scheduler, [str(c) for c in classes], ids)

    def network(self, x_t: Tensor, timesteps: Tensor, labels: Tensor) -> Tensor:
        """eps channels of DiT(x_t, t, label): [M, C, h, w], [M], [M] -> [M, C, h, w]."""
        output = self.transformer(
            x_t, timestep=timesteps, class_labels=self.label_ids[labels]
        ).sample  # [M, 2C or C, h, w]
        return output[:, : self.latent_shape[0]]  # drop the learned-variance channels
