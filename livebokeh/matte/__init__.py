"""From the model's low-resolution person confidence to a frame-size matte (1 = subject)."""
