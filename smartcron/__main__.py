"""`python -m smartcron` runs the command line, as the `smartcron` script does."""

from smartcron.cli import main

main()
