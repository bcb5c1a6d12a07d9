"""``python -m pixcal`` = the ``pixcal`` command."""

from pixcal.cli import main

main()
