"""Tilework: a crowdsourcing marketplace for computer-vision annotation."""

__version__ = "0.1.0"
