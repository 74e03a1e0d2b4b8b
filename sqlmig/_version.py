"""The release number, alone in a module so that anything may import it without cycles."""

__version__ = "0.1.0"
