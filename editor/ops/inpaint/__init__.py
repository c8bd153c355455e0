"""Object removal's algorithms (Yang et al. 2017's two stages and the classical fills).

`hole` (what a removal reads and replaces), `classic` (OpenCV's diffusion fills), `content`
(the content stage: the mean of PatchMatch completions offline, a content network when one is
installed), `network` (running such a network at its working size), `texture` (the neural
patch texture stage). The engine's `edits/remove.py` only validates, crops, reports and blends.
"""
