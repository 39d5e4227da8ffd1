"""``python -m kurir`` is the ``kurir`` command."""

from kurir.cli import main

main()
