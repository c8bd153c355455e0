"""MobileFaceNet (Chen et al. 2018), the foamliu ReLU6 / MobileNetV2 variant, as a differentiable
identity measure for the face swap: 1 - cosine between L2-normalised 128-d embeddings.

The layout follows ../shared/models/MANIFEST.md section 6 key for key (307 keys), so the
published weights load strictly. Faces go in aligned to the ArcFace 112 x 112 five-point template
(`ARC_TEMPLATE`), RGB 0..1 normalised with the ImageNet mean and std. Alone on raw pixels such a
loss is easily fooled (imperceptible steps reach a high cosine): use it beside content and patch
terms, never as the only objective.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from editor.ops.face_swap import similarity_fit

ARC_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ]
)
"""Left eye, right eye, nose tip, left and right mouth corner in the 112 x 112 input."""
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


def five_points(landmarks: np.ndarray) -> np.ndarray:
    """dlib's 68 landmarks -> the template's five points (eye centres, nose tip, mouth corners)."""
    eyes = [landmarks[36:42].mean(0), landmarks[42:48].mean(0)]
    return np.stack([*eyes, landmarks[30], landmarks[48], landmarks[54]])


def _conv_bn(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)
    )


class _DepthwiseSeparable(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(channels, channels, 3, 1, 1, groups=channels, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.pointwise = nn.Conv2d(channels, channels, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(self.bn1(self.depthwise(x)))
        return F.relu(self.bn2(self.pointwise(x)))


class _InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        self.residual = stride == 1 and cin == cout
        self.conv = nn.Sequential(
            _conv_bn(cin, hidden, 1),
            _conv_bn(hidden, hidden, 3, stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        )

    def forward(self, x: Tensor) -> Tensor:
        c = self.conv
        y = F.relu6(c[0](x))
        y = F.relu6(c[1](y))
        y = c[3](c[2](y))
        return x + y if self.residual else y


class MobileFaceNet(nn.Module):
    """(B, 3, 112, 112) normalised RGB -> (B, 128) raw embedding."""

    SETTINGS = ((2, 64, 5, 2), (4, 128, 1, 2), (2, 128, 6, 1), (4, 128, 1, 2), (2, 128, 2, 1))

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = _conv_bn(3, 64, 3, 2)
        self.dw_conv = _DepthwiseSeparable(64)
        blocks, cin = [], 64
        for expand, cout, repeats, stride in self.SETTINGS:
            for i in range(repeats):
                blocks.append(_InvertedResidual(cin, cout, stride if i == 0 else 1, expand))
                cin = cout
        self.features = nn.Sequential(*blocks)
        self.conv2 = _conv_bn(128, 512, 1)
        self.gdconv = nn.Module()
        self.gdconv.depthwise = nn.Conv2d(512, 512, 7, groups=512, bias=False)
        self.gdconv.bn = nn.BatchNorm2d(512)
        self.conv3 = nn.Conv2d(512, 128, 1)
        self.bn = nn.BatchNorm2d(128)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu6(self.conv1(x))
        x = self.dw_conv(x)
        x = self.features(x)
        x = F.relu6(self.conv2(x))
        x = self.gdconv.bn(self.gdconv.depthwise(x))
        return self.bn(self.conv3(x)).flatten(1)


def aligned_112(image01: Tensor, landmarks: np.ndarray) -> Tensor:
    """(1, 3, H, W) RGB 0..1 -> (1, 3, 112, 112) aligned and normalised, differentiable in the
    pixels (bilinear sampling through `affine_grid`)."""
    h, w = image01.shape[-2:]
    forward = np.vstack([similarity_fit(five_points(landmarks), ARC_TEMPLATE)[0], [0, 0, 1]])
    inverse = np.linalg.inv(forward)  # template pixel -> image pixel
    # affine_grid works in [-1, 1] coordinates (align_corners=False: pixel centres at (i+0.5)).
    out_from_norm = np.array([[56.0, 0, 55.5], [0, 56.0, 55.5], [0, 0, 1]])
    in_to_norm = np.array([[2 / w, 0, 1 / w - 1], [0, 2 / h, 1 / h - 1], [0, 0, 1]])
    theta = (in_to_norm @ inverse @ out_from_norm)[:2]
    grid = F.affine_grid(
        torch.tensor(theta, dtype=image01.dtype, device=image01.device)[None],
        [1, 3, 112, 112],
        align_corners=False,
    )
    face = F.grid_sample(image01, grid, mode="bilinear", padding_mode="border", align_corners=False)
    mean = torch.tensor(_MEAN, dtype=face.dtype, device=face.device).view(1, 3, 1, 1)
    std = torch.tensor(_STD, dtype=face.dtype, device=face.device).view(1, 3, 1, 1)
    return (face - mean) / std


def unit_embedding(net: MobileFaceNet, image01: Tensor, landmarks: np.ndarray) -> Tensor:
    """(128,) L2-normalised embedding of the face at `landmarks` in `image01`."""
    return F.normalize(net(aligned_112(image01, landmarks)), dim=1)[0]
