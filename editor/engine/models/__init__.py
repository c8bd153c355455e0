"""The model seam: one base (`base.ModelFamily`), one module per model family, one handle
(`manager.Models`, what a run finds at `ctx.models`).

Families: `vgg` (VGG19 features), `wct` (the compressed WCT encoders/decoders), `upscalers`
(the faithful and GAN super-resolution networks), `faces` (the identity network; dlib's
detector and landmarks), `fast_styles` (feed-forward style networks), `content` (the removal's
content stage: LaMa when installed, else the mean of PatchMatch completions).
"""
