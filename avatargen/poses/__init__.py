"""Poses: templates, the library and its search, framing, rendering, extraction from photos, plausibility.

Import-cheap: no numpy, PIL, torch or datasets at import time in any of its modules; the data is templates.parquet.
"""
