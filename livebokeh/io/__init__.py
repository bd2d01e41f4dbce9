"""Edges of the pipeline: files, cameras and virtual cameras in and out.

``images`` reads and writes every still (photos, masks, mattes, depth and CoC maps,
background images), ``video`` decodes and encodes with PyAV, ``sources`` captures frames
from a camera or a file, ``sinks`` sends them to a virtual camera or a window, and ``atomic``
makes every output appear whole or not at all.
"""
