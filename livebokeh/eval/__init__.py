"""Measurement only: metrics, the naive baseline, the exact lens reference, synthetic scenes."""
