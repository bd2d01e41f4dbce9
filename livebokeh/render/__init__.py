"""The blur: halo-free styles, the lens, grain and background modes, on the CPU or with CUDA.

``backend`` picks a ``Renderer`` (``cpu`` or ``cuda``); each turns a frame, its matte and
(lens style) its circle-of-confusion map from ``dof`` into the output frame.
"""
