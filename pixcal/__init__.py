"""pixcal: test and calibration of CMS Phase-1 pixel modules.

The application layer: module configuration, test plans and their runner, procedures,
analysis, the HDF5 results store and the command line. Hardware is reached through ``hal``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pixcal")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
