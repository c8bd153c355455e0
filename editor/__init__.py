"""SemEdit: an image editor whose tools are deep-learning semantic edits."""

__version__ = "0.1.0"
