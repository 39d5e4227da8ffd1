"""The one error type the domain raises for input it refuses."""


class ValidationError(ValueError):
    """Input that breaks a rule; ``message`` names the field and what is wrong.

    The API answers it as HTTP 422 with the message as it is, so the message is
    written for the client's developer, never containing internal detail.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
