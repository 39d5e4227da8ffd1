"""Pure rules of the gateway: no I/O, no clocks read, no database.

Everything here takes its inputs (including "now") as arguments, so it can be
tested exhaustively and reused by the API, the dispatcher and the CLI alike.
"""

from kurir.domain.errors import ValidationError

__all__ = ["ValidationError"]
