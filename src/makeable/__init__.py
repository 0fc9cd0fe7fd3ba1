"""makeable: AI-driven molecular design — design what you can make."""

__version__ = "0.1.0"
