"""Password hashing: argon2id (RFC 9106) through argon2-cffi.

Parameters: OWASP's first argon2id configuration (Password Storage Cheat Sheet) -
``time_cost=2``, ``memory_cost=19 MiB`` (19456 KiB), ``parallelism=1``, 16-byte salt, 32-byte
hash. Measured on the development machine (2 vCPUs, argon2-cffi 25.1): one ``hash_password``
takes about 20 ms and one ``verify_password`` about 19 ms (timeit, 20 runs each). Memory is
what makes argon2 expensive for attackers, and 19 MiB per login in flight keeps a burst of a few
hundred concurrent logins within a server's RAM; raising the cost later is safe, because
``needs_rehash`` tells the login path to re-hash with the current parameters.

All four functions block for the hash's duration (argon2-cffi releases the GIL): call them from a
worker thread in async code (``anyio.to_thread.run_sync``). Bound the password's length at the API.
"""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import Argon2Error

__all__ = ["burn_verification", "hash_password", "needs_rehash", "verify_password"]

_HASHER = PasswordHasher(
    time_cost=2,
    memory_cost=19 * 1024,  # KiB
    parallelism=1,
    hash_len=32,
    salt_len=16,
    type=Type.ID,
)

# A hash of a random password nobody knows, made with exactly the parameters above (a test checks
# that it does not need a re-hash, so changing the parameters without replacing it fails loudly).
# Verifying against it costs what a real verification costs.
_DUMMY_HASH = (
    "$argon2id$v=19$m=19456,t=2,p=1$mquyXkNU/KaMeNBK/qtBUw"
    "$8vMzsA41dIUTWKhECuVuvSqpfTaXwNV4fdOO2c8EbCA"
)


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` in PHC string form (a fresh random salt each time)."""
    return _HASHER.hash(password)


def verify_password(stored: str, password: str) -> bool:
    """Whether ``password`` matches ``stored``; False (never an exception) when it is malformed."""
    try:
        return _HASHER.verify(stored, password)
    except (Argon2Error, ValueError, TypeError):
        # VerifyMismatchError/VerificationError (wrong password, corrupt hash), InvalidHashError
        # (not a PHC string), UnicodeEncodeError (non-ASCII hash, unpaired surrogates).
        return False


def needs_rehash(stored: str) -> bool:
    """Whether ``stored`` was made with other parameters (or is unreadable) and should be redone."""
    try:
        return _HASHER.check_needs_rehash(stored)
    except (Argon2Error, ValueError, TypeError):
        return True


def burn_verification(password: str) -> None:
    """Spend one verification's time on a dummy hash (an unknown account must not answer faster)."""
    verify_password(_DUMMY_HASH, password)
