"""mx_formats: placeholder while the package is being written."""
from mx_formats.__about__ import __version__
from mx_formats.formats import *  # noqa: F401,F403
from mx_formats.parse import FormatParseError, parse  # noqa: F401
