"""Errors the kit raises for bad input.

Every message names the parameter, the value given and what is allowed, so a user
(or the CLI, which prints it and exits with status 2) can fix the input at once.
"""


class ConfigError(ValueError):
    """A parameter of a run has a value the kit cannot use."""

    def __init__(self, param: str, value, allowed: str):
        self.param, self.value, self.allowed = param, value, allowed
        super().__init__(f"{param}={value!r} is not allowed: {allowed}")


class DataError(ConfigError):
    """A data set is missing or damaged (a ConfigError about a data parameter)."""
