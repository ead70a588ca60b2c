"""The MASE intermediate representation: graphs traced from torch.export, with typed software and hardware metadata and a text form that parses back.

Not built yet: see README.md for what this package will hold."""

from mase_ir.__about__ import __version__

__all__ = ["__version__"]
