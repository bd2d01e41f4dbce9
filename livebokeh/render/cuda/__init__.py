"""GPU rendering with CuPy (optional: ``pip install 'livebokeh[gpu]'``).

``renderer`` holds the array port of the renderers and the CUDA renderer; the kernel
sources (``*.cu``) beside it ship as package data and are compiled at run time by NVRTC.
Nothing here imports CuPy at import time.
"""
