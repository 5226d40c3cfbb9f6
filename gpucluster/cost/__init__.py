"""Cost estimates from the previewed resource graph, and the price books they read."""

from .model import estimate

__all__ = ["estimate"]
