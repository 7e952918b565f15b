"""bulkx: plan, diff, apply and resume bulk changes against the CarrierX APIs."""

__version__ = "0.1.0"
__all__ = ["__version__"]
