"""Training loops: zero-reference (``zero_reference``)."""
