"""qclone: encrypted cloning of quantum information.

Layers (lower never import higher): ``protocol`` → ``sim`` → ``analysis`` →
``hardware`` → ``storage`` → ``cli``.
"""

from qclone.errors import InvalidArgumentError, QcloneError, TooLargeError, UnsupportedError

__version__ = "0.1.0"
__all__ = ["Client", "QcloneError", "InvalidArgumentError", "TooLargeError", "UnsupportedError", "__version__"]


def __getattr__(name: str) -> object:
    """``qclone.Client`` (the storage SDK) is imported on first use, so ``import qclone`` stays light."""
    if name == "Client":
        from qclone.storage.client import Client

        return Client
    raise AttributeError(f"module 'qclone' has no attribute {name!r}")
