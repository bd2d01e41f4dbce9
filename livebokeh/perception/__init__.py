"""What the models see in a frame: the person (segmentation), depth and faces (focus)."""
