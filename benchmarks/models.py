"""The models the benchmark suite measures (``python -m benchmarks``).

Three kinds, each a `BenchModel` with a dynamic batch:

* trt_autoplugin's built-in examples (`trt_autoplugin.examples`);
* small detection-style blocks around torchvision's custom ops ``torchvision::deform_conv2d``
  and ``torchvision::roi_align`` (neither has a Torch-TensorRT converter; both have fake kernels);
* whole models from installed model libraries with an op the Torch-TensorRT 2.13 snapshot can't
  convert: torchvision's inference preprocessing (antialiased resize) in front of its
  MobileNetV3-Large, and timm's VOLO-D1, whose Outlooker attention folds patches back
  (``F.fold``, decomposed into ``aten._unsafe_index_put``).

torchvision and timm are imported inside the builders: a model whose library is missing is
reported by the suite as skipped with the reason (`missing_requirement`), never dropped.
"""

import dataclasses
import importlib
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torch.export import Dim

from trt_autoplugin.examples import example_names, load_example

DynamicShapes = tuple[dict[int, Dim], ...]
InputMaker = Callable[[int, torch.device, torch.Generator], tuple[torch.Tensor, ...]]


@dataclasses.dataclass(frozen=True, slots=True)
class BenchModel:
    """A model to benchmark, described without building it.

    Attributes:
        name: the name the suite reports and ``--models`` selects.
        library: where the model comes from ('trt_autoplugin.examples', 'torchvision', 'timm').
        description: one line for the tables.
        requires: modules that must import for the model to be built.
        build: the model in eval mode, on the CPU.
        make_inputs: random inputs for a batch size, on a device, from a seeded generator.
        dynamic_shapes: ``dynamic_shapes`` for ``torch.export`` with the batch bounded by the
            given maximum.
        declared_max: the batch maximum the model declares (the examples' ``Dim`` max).
        batch_unit: what one batch element is ('image', 'sample'), for the tables.
    """

    name: str
    library: str
    description: str
    requires: tuple[str, ...]
    build: Callable[[], nn.Module]
    make_inputs: InputMaker
    dynamic_shapes: Callable[[int], DynamicShapes]
    declared_max: int
    batch_unit: str = "sample"


def missing_requirement(model: BenchModel) -> str | None:
    """Why the model can't be built here (a library that doesn't import), or None."""
    for module in model.requires:
        try:
            importlib.import_module(module)
        except (ImportError, OSError, RuntimeError) as e:
            # A wheel built for another torch fails to load its extension: any of these.
            return f"{module} does not import: {type(e).__name__}: {e}"
    return None


def _random_like(
    template: torch.Tensor, shape: Sequence[int], device: torch.device, generator: torch.Generator
) -> torch.Tensor:
    if template.is_floating_point():
        return torch.randn(*shape, dtype=template.dtype, device=device, generator=generator)
    return torch.randint(
        -100, 100, tuple(shape), dtype=template.dtype, device=device, generator=generator
    )


def _uniform_images(
    batch: int, shape: tuple[int, int, int], device: torch.device, generator: torch.Generator
) -> torch.Tensor:
    return torch.rand(batch, *shape, device=device, generator=generator)


# --- trt_autoplugin's examples -------------------------------------------------------------------


def _example_max(name: str) -> int:
    _, _, dynamic_shapes = load_example(name)
    return max(dim.max for spec in dynamic_shapes for dim in spec.values())


def _widened(dynamic_shapes: DynamicShapes, max_batch: int) -> DynamicShapes:
    """The example's dynamic shapes with every Dim's maximum set to ``max_batch``."""
    return tuple(
        {axis: Dim(dim.__name__, min=dim.min, max=max_batch) for axis, dim in spec.items()}
        for spec in dynamic_shapes
    )


def _example_model(name: str) -> BenchModel:
    def build() -> nn.Module:
        return load_example(name)[0]

    def make_inputs(
        batch: int, device: torch.device, generator: torch.Generator
    ) -> tuple[torch.Tensor, ...]:
        _, templates, _ = load_example(name)
        return tuple(_random_like(x, (batch, *x.shape[1:]), device, generator) for x in templates)

    def dynamic_shapes(max_batch: int) -> DynamicShapes:
        return _widened(load_example(name)[2], max_batch)

    doc = (load_example(name)[0].__doc__ or name).strip().splitlines()[0]
    return BenchModel(
        name=name,
        library="trt_autoplugin.examples",
        description=doc,
        requires=(),
        build=build,
        make_inputs=make_inputs,
        dynamic_shapes=dynamic_shapes,
        declared_max=_example_max(name),
    )


# --- torchvision custom ops in detection-style blocks --------------------------------------------

DEFORM_IMAGE = (3, 128, 128)
DEFORM_MAX = 1024


class DeformableBlock(nn.Module):
    """A DCNv2 block: a conv predicts offsets and a mask, torchvision's DeformConv2d samples."""

    def __init__(self, channels: int = 32, out_channels: int = 64, kernel: int = 3) -> None:
        super().__init__()
        from torchvision.ops import DeformConv2d

        self.taps = kernel * kernel
        self.stem = nn.Sequential(
            nn.Conv2d(3, channels, 3, stride=2, padding=1), nn.BatchNorm2d(channels), nn.ReLU()
        )
        # 2 offsets (dy, dx) and one modulation scalar per kernel tap, as in DCNv2.
        self.offsets = nn.Conv2d(channels, 3 * self.taps, 3, padding=1)
        self.deform = DeformConv2d(channels, out_channels, kernel, padding=kernel // 2)
        self.norm = nn.BatchNorm2d(out_channels)
        self.head = nn.Conv2d(out_channels, out_channels, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.stem(images)
        offset, mask = self.offsets(features).split([2 * self.taps, self.taps], dim=1)
        sampled = self.deform(features, offset, torch.sigmoid(mask))
        return self.head(torch.relu(self.norm(sampled)))


def _deform_inputs(
    batch: int, device: torch.device, generator: torch.Generator
) -> tuple[torch.Tensor, ...]:
    return (_uniform_images(batch, DEFORM_IMAGE, device, generator),)


ROI_IMAGE = (3, 256, 256)
ROIS_PER_IMAGE = 256
ROI_MAX = 512
ROI_STRIDE = 8


class RoIHead(nn.Module):
    """A two-stage detector's second stage: a stride-8 conv backbone, torchvision's roi_align
    on each proposal, and Faster R-CNN's box head (two FC layers, class scores, box deltas)."""

    def __init__(self, channels: int = 64, pooled: int = 7, hidden: int = 256) -> None:
        super().__init__()
        classes = 21  # Pascal VOC's 20 classes and the background
        self.pooled = pooled
        self.backbone = nn.Sequential(
            nn.Conv2d(3, 32, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, channels, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, stride=2, padding=1),
            nn.ReLU(),
        )
        self.fc6 = nn.Linear(channels * pooled * pooled, hidden)
        self.fc7 = nn.Linear(hidden, hidden)
        self.scores = nn.Linear(hidden, classes)
        self.deltas = nn.Linear(hidden, 4 * classes)

    def forward(
        self, images: torch.Tensor, rois: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        from torchvision.ops import roi_align

        features = self.backbone(images)
        pooled = roi_align(
            features,
            rois,
            self.pooled,
            spatial_scale=1 / ROI_STRIDE,
            sampling_ratio=2,
            aligned=True,
        )
        hidden = torch.relu(self.fc7(torch.relu(self.fc6(pooled.flatten(1)))))
        return self.scores(hidden), self.deltas(hidden)


def random_rois(
    batch: int, per_image: int, size: int, device: torch.device, generator: torch.Generator
) -> torch.Tensor:
    """``(batch * per_image, 5)`` proposals ``(image index, x1, y1, x2, y2)`` inside the image."""
    count = batch * per_image
    index = torch.arange(batch, device=device).repeat_interleave(per_image).to(torch.float32)
    corner = torch.rand(count, 2, device=device, generator=generator) * (size * 0.75)
    extent = 8 + torch.rand(count, 2, device=device, generator=generator) * (size * 0.25)
    return torch.cat([index[:, None], corner, (corner + extent).clamp(max=size - 1)], dim=1)


def _roi_inputs(
    batch: int, device: torch.device, generator: torch.Generator
) -> tuple[torch.Tensor, ...]:
    images = _uniform_images(batch, ROI_IMAGE, device, generator)
    return images, random_rois(batch, ROIS_PER_IMAGE, ROI_IMAGE[-1], device, generator)


def _roi_shapes(max_batch: int) -> DynamicShapes:
    images = Dim("images", min=2, max=max_batch)
    rois = Dim("rois", min=2, max=max_batch * ROIS_PER_IMAGE)
    return ({0: images}, {0: rois})


# --- model libraries -----------------------------------------------------------------------------

CAMERA_IMAGE = (3, 480, 640)
PREPROCESS_MAX = 512
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class PreprocessedClassifier(nn.Module):
    """torchvision's inference preprocessing (antialiased resize to 256, center crop 224,
    normalize) inside the model, in front of torchvision's MobileNetV3-Large."""

    def __init__(self) -> None:
        super().__init__()
        from torchvision.models import mobilenet_v3_large
        from torchvision.transforms import v2

        self.preprocess = nn.Sequential(
            v2.Resize(256, antialias=True),
            v2.CenterCrop(224),
            v2.Normalize(mean=list(IMAGENET_MEAN), std=list(IMAGENET_STD)),
        )
        self.classifier = mobilenet_v3_large(weights=None)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.preprocess(images))


def _camera_inputs(
    batch: int, device: torch.device, generator: torch.Generator
) -> tuple[torch.Tensor, ...]:
    return (_uniform_images(batch, CAMERA_IMAGE, device, generator),)


VOLO_IMAGE = (3, 224, 224)
VOLO_MAX = 512
VOLO_NAME = "volo_d1_224"


def _volo() -> nn.Module:
    import timm

    # Random weights: nothing can be downloaded on the benchmark machines, and speed and the
    # graph don't depend on the values.
    return timm.create_model(VOLO_NAME, pretrained=False)


def _volo_inputs(
    batch: int, device: torch.device, generator: torch.Generator
) -> tuple[torch.Tensor, ...]:
    return (torch.randn(batch, *VOLO_IMAGE, device=device, generator=generator),)


def _batch_shapes(name: str) -> Callable[[int], DynamicShapes]:
    def shapes(max_batch: int) -> DynamicShapes:
        return ({0: Dim(name, min=2, max=max_batch)},)

    return shapes


def _library_models() -> list[BenchModel]:
    return [
        BenchModel(
            name="deform_conv",
            library="torchvision.ops",
            description="DCNv2 block: offsets and mask from a conv, torchvision DeformConv2d",
            requires=("torchvision",),
            build=DeformableBlock,
            make_inputs=_deform_inputs,
            dynamic_shapes=_batch_shapes("images"),
            declared_max=DEFORM_MAX,
            batch_unit="image",
        ),
        BenchModel(
            name="roi_head",
            library="torchvision.ops",
            description=(
                f"detector second stage: conv backbone, roi_align of {ROIS_PER_IMAGE} "
                "proposals per image, Faster R-CNN box head"
            ),
            requires=("torchvision",),
            build=RoIHead,
            make_inputs=_roi_inputs,
            dynamic_shapes=_roi_shapes,
            declared_max=ROI_MAX,
            batch_unit="image",
        ),
        BenchModel(
            name="tv_preprocess_mobilenet_v3",
            library="torchvision",
            description=(
                "torchvision v2 Resize(256, antialias) + CenterCrop + Normalize, then "
                "MobileNetV3-Large, on 640x480 images"
            ),
            requires=("torchvision",),
            build=PreprocessedClassifier,
            make_inputs=_camera_inputs,
            dynamic_shapes=_batch_shapes("images"),
            declared_max=PREPROCESS_MAX,
            batch_unit="image",
        ),
        BenchModel(
            name="timm_volo_d1",
            library="timm",
            description=f"timm {VOLO_NAME}: Outlooker attention folds patches (F.fold)",
            requires=("timm", "torchvision"),
            build=_volo,
            make_inputs=_volo_inputs,
            dynamic_shapes=_batch_shapes("images"),
            declared_max=VOLO_MAX,
            batch_unit="image",
        ),
    ]


def bench_models() -> tuple[BenchModel, ...]:
    """Every model of the suite: the examples first, then the library models."""
    return (*(_example_model(name) for name in example_names()), *_library_models())


def model_names() -> tuple[str, ...]:
    """Names of the suite's models, in the order they run."""
    return tuple(m.name for m in bench_models())


def moved(inputs: Sequence[Any], device: torch.device) -> tuple[Any, ...]:
    """The inputs on ``device`` (tensors only; anything else as is)."""
    return tuple(x.to(device) if isinstance(x, torch.Tensor) else x for x in inputs)
