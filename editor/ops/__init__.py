"""Algorithms as pure functions of arrays and tensors: no Qt, no files, no network."""
