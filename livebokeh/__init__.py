"""livebokeh: the shallow depth of field of a fast portrait lens, for any camera or video.

Python API (RGB uint8 arrays in and out)::

    from livebokeh import BokehProcessor, BokehSettings, blur_image

    out = blur_image(rgb, strength=40)                 # one photo
    with BokehProcessor(BokehSettings(strength=30)) as proc:
        for rgb in frames:                             # video or camera frames
            result = proc.process(rgb)                 # result.image, result.matte

    rows = run_batch([BatchJob("in.mp4", "out/in.mp4")], "out/livebokeh-batch.jsonl")
"""

from livebokeh.app.batch import BatchJob, run_batch
from livebokeh.errors import LivebokehError
from livebokeh.pipeline import BokehProcessor, FrameResult, blur_image
from livebokeh.settings import BokehSettings

__all__ = ["BatchJob", "BokehProcessor", "BokehSettings", "FrameResult", "LivebokehError",
           "blur_image", "run_batch"]
