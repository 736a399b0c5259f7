"""qclone: encrypted cloning of quantum information.

Layers (lower never import higher): ``protocol`` → ``sim`` → ``analysis`` →
``hardware`` → ``storage`` → ``cli``.
"""

from qclone.errors import InvalidArgumentError, QcloneError, TooLargeError, UnsupportedError

__version__ = "0.1.0"
__all__ = ["QcloneError", "InvalidArgumentError", "TooLargeError", "UnsupportedError", "__version__"]
