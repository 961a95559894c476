"""Product Order Management for a Pooling & Sharing System (PSI TOD-03-02 on TMF622)."""

__all__ = ["__version__"]
__version__ = "0.1.0"
