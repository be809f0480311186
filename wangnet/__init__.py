"""wangnet: management system for a 王-shaped city e-government network."""

__version__ = "0.1.0"
