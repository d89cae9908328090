"""User-facing errors: one line that names the file or field, the problem and the fix."""


class LongvidError(Exception):
    """An error caused by user input or configuration, shown as one line without a traceback."""


class PromptFileError(LongvidError):
    def __init__(self, path, problem: str, fix: str, field: str | None = None):
        where = f"{path}" + (f": field '{field}'" if field else "")
        super().__init__(f"{where}: {problem} — {fix}")
        self.path = path
        self.field = field


class ConfigError(LongvidError):
    """A bad value in a configs/*.yaml file, raised when the definitions load."""


class StaleInputError(LongvidError):
    """An upstream artifact for the current plan is missing: materialize that stage first."""


class BackendError(LongvidError):
    """A model or service failed (OOM, network fault, bad reply); the message names the fix."""
