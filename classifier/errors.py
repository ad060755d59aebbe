"""Named exceptions: the library raises these, the CLI turns them into one `Error:` line."""


class ClassifierError(Exception):
    """Base class for every error ciocto reports to a user."""


class BadInput(ClassifierError):
    """The text, file or table given to ciocto cannot be used as it is."""


class DataError(ClassifierError):
    """Training labels are missing, malformed or contradictory."""


class ModelNotFound(ClassifierError):
    """No model at the given name or path."""


class ModelIntegrityError(ClassifierError):
    """A model file does not match its card, or has no card: it is not loaded."""


class RegistryError(ClassifierError):
    """The registry's ACTIVE file, or where it points, cannot be trusted as it is."""


class RegistryBusy(ClassifierError):
    """Another run holds the registry's lock and did not let go in time."""


class OutputError(ClassifierError):
    """Writing an output failed part way: a full disk, an I/O error; what was written is removed."""
