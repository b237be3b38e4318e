"""Choosing the keyring backend the vault writes to, once, at start.

Order (``FLEET_KEYRING_BACKEND`` = ``auto``, the default):

1. If the operator pointed keyring at a backend explicitly (``PYTHON_KEYRING_BACKEND``
   or keyring's own config file) that backend is used, and refused if it stores
   secrets in the clear or not at all (fail, null, plaintext files).
2. Otherwise the host's keyring, if it is a real one (Secret Service, KWallet,
   macOS Keychain, Windows Credential Locker, or any third-party backend such as a
   Vault bridge).
3. Otherwise an encrypted file (keyrings.cryptfile, Argon2id + AES-GCM) at
   ``<data_dir>/credentials/keyring.cfg``, unlocked with ``FLEET_KEYRING_KEY_FILE``
   (a file of mode 0600 or stricter, owned by this user) or
   ``FLEET_KEYRING_PASSWORD``. It never prompts.
4. Otherwise refuse, with an error that says how to configure one.

``FLEET_KEYRING_BACKEND=system`` insists on 2 (refusing otherwise) and
``FLEET_KEYRING_BACKEND=file`` on 3.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import keyring
import keyring.core
from keyring.backend import KeyringBackend

from credentials.secret import Secret

__all__ = [
    "CRYPTFILE_NAME",
    "ENV_BACKEND",
    "ENV_KEY_FILE",
    "ENV_PASSWORD",
    "FIX_HINT",
    "SALT_SUFFIX",
    "InsecureBackendError",
    "KeyringConfigError",
    "KeyringNotConfiguredError",
    "VaultLockedError",
    "backend_name",
    "ensure_secure",
    "file_salt",
    "is_insecure",
    "open_cryptfile",
    "read_master_key",
    "select_backend",
]

ENV_BACKEND = "FLEET_KEYRING_BACKEND"
ENV_PASSWORD = "FLEET_KEYRING_PASSWORD"
ENV_KEY_FILE = "FLEET_KEYRING_KEY_FILE"
CRYPTFILE_NAME = "keyring.cfg"

FIX_HINT = (
    f"set {ENV_KEY_FILE} to a file (mode 0600) holding a long random passphrase, "
    f"or {ENV_PASSWORD}, to use the encrypted file keyring in the data dir; "
    "see docs/credentials.md"
)


class KeyringConfigError(RuntimeError):
    """The vault cannot start; the message says what to change. Never holds a secret."""


class InsecureBackendError(KeyringConfigError):
    """The configured keyring would store secrets in the clear, or not at all."""


class KeyringNotConfiguredError(KeyringConfigError):
    """No real host keyring and no key for the encrypted file keyring."""


class VaultLockedError(KeyringConfigError):
    """The encrypted file keyring exists but the key given does not open it."""


# Backends that never hold a secret safely. Matched on "module.Class" and, for any
# third-party backend, on "plaintext" in the class name.
_INSECURE = frozenset(
    {
        "keyring.backends.fail.Keyring",
        "keyring.backends.null.Keyring",
        "keyrings.alt.file.PlaintextKeyring",
        "keyrings.cryptfile.file.PlaintextKeyring",
        # PBKDF2 + AES-CFB without authentication, and it prompts on a terminal.
        "keyrings.cryptfile.file.EncryptedKeyring",
        "keyrings.alt.file.EncryptedKeyring",
    }
)
_CHAINER = "keyring.backends.chainer.ChainerBackend"
_CRYPTFILE = "keyrings.cryptfile.cryptfile.CryptFileKeyring"


def backend_name(backend: KeyringBackend) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def is_insecure(backend: KeyringBackend) -> bool:
    """True for backends that store nothing or store secrets readable as text."""
    name = backend_name(backend)
    return name in _INSECURE or "plaintext" in type(backend).__name__.lower()


def ensure_secure(backend: KeyringBackend) -> KeyringBackend:
    """Return ``backend``, or raise :class:`InsecureBackendError` with the fix."""
    if is_insecure(backend):
        raise InsecureBackendError(
            f"refusing keyring backend {backend_name(backend)}: it keeps secrets in the "
            f"clear or not at all. Configure a real keyring (Secret Service, KWallet, "
            f"Keychain) or {FIX_HINT}"
        )
    return backend


def _real_host_backends(host: KeyringBackend) -> list[KeyringBackend]:
    """The usable backends behind ``host`` (unwrapping the chainer), best first."""
    members = list(getattr(host, "backends", [])) if backend_name(host) == _CHAINER else [host]
    return [
        b
        for b in members
        # an unconfigured cryptfile prompts on a terminal; we open our own instead
        if not is_insecure(b) and backend_name(b) != _CRYPTFILE
    ]


def read_master_key(env: Mapping[str, str]) -> Secret | None:
    """The encrypted file keyring's key from the key file or the variable, or None.

    The key file must be a regular file owned by this user with no group or other
    permissions; anything else is refused rather than trusted.
    """
    key_file = env.get(ENV_KEY_FILE, "").strip()
    password = env.get(ENV_PASSWORD, "")
    if key_file and password:
        raise KeyringConfigError(f"set {ENV_KEY_FILE} or {ENV_PASSWORD}, not both")
    if key_file:
        path = Path(key_file).expanduser()
        try:
            st = path.stat()
        except OSError as exc:
            raise KeyringConfigError(
                f"{ENV_KEY_FILE}={path}: cannot read it ({exc.strerror})"
            ) from None
        if not stat.S_ISREG(st.st_mode):
            raise KeyringConfigError(f"{ENV_KEY_FILE}={path}: not a regular file")
        if st.st_mode & 0o077:
            raise KeyringConfigError(
                f"{ENV_KEY_FILE}={path} has mode {stat.S_IMODE(st.st_mode):04o}; "
                f"refusing a key others can read: run chmod 600 {path}"
            )
        if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
            raise KeyringConfigError(f"{ENV_KEY_FILE}={path} is not owned by this user")
        key = path.read_text(encoding="utf-8").strip("\r\n")
        if not key.strip():
            raise KeyringConfigError(f"{ENV_KEY_FILE}={path} is empty")
        return Secret(key)
    if password:
        if not password.strip():
            raise KeyringConfigError(f"{ENV_PASSWORD} is blank")
        return Secret(password)
    return None


_DERIVED: dict[tuple[bytes, bytes, int, int, int], bytes] = {}
_DERIVED_LOCK = threading.Lock()
_DERIVED_MAX = 4096


def _derived_key(password: str, salt: bytes, time_cost: int, memory_cost: int, par: int) -> bytes:
    """Argon2id of (password, salt), derived once per process and kept in memory.

    keyrings.cryptfile derives an entry's AES key from the master key and the
    salt stored with that entry (~0.3-0.4 s of CPU each). The process holds the
    master key in memory anyway, so holding the keys derived from it adds no
    exposure; the cache is keyed by a hash of the password, never the password
    itself. With the file's shared salt (:func:`file_salt`) every entry has the
    same key: one derivation per process."""
    from argon2.low_level import Type, hash_secret_raw

    pw_hash = hashlib.sha256(password.encode("utf-8")).digest()
    ident = (pw_hash, bytes(salt), time_cost, memory_cost, par)
    with _DERIVED_LOCK:
        key = _DERIVED.get(ident)
    if key is None:
        key = hash_secret_raw(
            secret=password.encode("utf-8"),
            salt=salt,
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=par,
            hash_len=16,
            type=Type.ID,
        )
        with _DERIVED_LOCK:
            if len(_DERIVED) >= _DERIVED_MAX:
                _DERIVED.clear()
            _DERIVED[ident] = key
    return key


SALT_SUFFIX = ".salt"
SALT_BYTES = 16


def file_salt(keyring_file: Path) -> bytes:
    """The salt every entry written to ``keyring_file`` is encrypted with:
    ``<keyring_file>.salt``, 16 random bytes made once (mode 0600; two
    processes racing to make it both end up with the winner's).

    keyrings.cryptfile draws a new salt for every entry, so each entry needs a
    key derivation of its own. A salt defends a password against precomputed
    tables; one random salt per keyring does that as well as one per entry,
    while the key it derives, with a fresh random GCM nonce per entry, serves
    every entry: a process derives one key, not one per secret. The salt is not
    secret. Each entry still carries the salt it was written with, so entries
    written before (one salt each) keep opening, at one derivation each."""
    path = keyring_file.with_name(keyring_file.name + SALT_SUFFIX)
    for _ in range(2):
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue  # another process made it first: read theirs
            with os.fdopen(fd, "wb") as f:
                f.write(os.urandom(SALT_BYTES))
                f.flush()
                os.fsync(f.fileno())
            continue
        if len(raw) == SALT_BYTES:
            return raw
        raise KeyringConfigError(f"{path} is not a keyring salt ({len(raw)} bytes); remove it")
    raise KeyringConfigError(f"{path}: could not be read")  # pragma: no cover


def _cryptfile_class() -> type:
    from keyrings.cryptfile.cryptfile import CryptFileKeyring

    class CachedCryptFileKeyring(CryptFileKeyring):
        """keyrings.cryptfile's file and format; every entry written with the
        file's one salt (:func:`file_salt`) and each key derived once per
        process (:func:`_derived_key`)."""

        def _create_cipher(self, password: str, salt: bytes, nonce: bytes | None = None) -> Any:
            from Crypto.Cipher import AES

            aesmode = self._get_mode(self.aesmode)
            if aesmode is None or self.password_encoding != "utf-8":  # pragma: no cover
                return super()._create_cipher(password, salt, nonce)
            key = _derived_key(password, salt, self.time_cost, self.memory_cost, self.parallelism)
            return AES.new(key, aesmode, nonce)

        def encrypt(self, password: bytes, assoc: bytes | None = None) -> bytes:
            """As keyrings.cryptfile encrypts, with the file's salt instead of a
            new one (its payload format unchanged: salt, data, mac, nonce)."""
            import json
            from base64 import encodebytes

            salt = file_salt(Path(self.file_path))
            cipher = self._create_cipher(self.keyring_key, salt)
            if assoc is not None:
                cipher.update(assoc)
            data, mac = cipher.encrypt_and_digest(password)
            fields = {"salt": salt, "data": data, "mac": mac, "nonce": cipher.nonce}
            return json.dumps({k: encodebytes(v).decode()[:-1] for k, v in fields.items()}).encode()

    CachedCryptFileKeyring.__module__ = __name__
    CachedCryptFileKeyring.__qualname__ = "CachedCryptFileKeyring"
    return CachedCryptFileKeyring


def open_cryptfile(path: Path, key: Secret) -> KeyringBackend:
    """An unlocked CryptFileKeyring at ``path``, created (mode 0600) if missing.

    Never prompts: the key is set before the first use. Costs one Argon2id
    derivation (~0.3 s) to create or check the file, and one per entry the
    first time this process reads it (none after: :func:`_derived_key`).
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    kr = _cryptfile_class()()
    kr.file_path = str(path)
    try:
        kr.keyring_key = key.reveal()
    except (ValueError, AssertionError):
        del kr.keyring_key
        raise VaultLockedError(
            f"cannot unlock the encrypted keyring {path}: the key from {ENV_KEY_FILE} "
            f"or {ENV_PASSWORD} is not the one it was created with"
        ) from None
    backend: KeyringBackend = kr
    return backend


def _cryptfile_for(data_dir: Path, env: Mapping[str, str]) -> KeyringBackend | None:
    key = read_master_key(env)
    if key is None:
        return None
    return open_cryptfile(data_dir / "credentials" / CRYPTFILE_NAME, key)


def _explicit_backend() -> KeyringBackend | None:
    """The backend named by PYTHON_KEYRING_BACKEND or keyring's config file, if any."""
    try:
        return keyring.core.load_env() or keyring.core.load_config()
    except Exception as exc:  # a bad name in the config: say so instead of guessing
        raise KeyringConfigError(f"keyring configuration is invalid: {exc}") from None


def select_backend(
    data_dir: Path,
    env: Mapping[str, str] | None = None,
    host: KeyringBackend | None = None,
) -> KeyringBackend:
    """The keyring backend for this process, following the order in the module doc.

    ``host`` overrides keyring's own detection (tests). Raises a
    :class:`KeyringConfigError` subclass with the fix in its message.
    """
    env = os.environ if env is None else env
    mode = env.get(ENV_BACKEND, "auto").strip().lower() or "auto"
    if mode not in ("auto", "system", "file"):
        raise KeyringConfigError(f"{ENV_BACKEND} must be auto, system or file, not {mode!r}")
    if mode == "file":
        backend = _cryptfile_for(data_dir, env)
        if backend is None:
            raise KeyringNotConfiguredError(f"{ENV_BACKEND}=file needs a key: {FIX_HINT}")
        return backend
    if host is None:
        explicit = _explicit_backend()
        if explicit is not None:
            if backend_name(explicit) == _CRYPTFILE:
                backend = _cryptfile_for(data_dir, env)
                if backend is None:
                    raise KeyringNotConfiguredError(
                        f"keyring is configured to use an encrypted file, which needs a key: "
                        f"{FIX_HINT}"
                    )
                return backend
            return ensure_secure(explicit)
        host = keyring.get_keyring()
    real = _real_host_backends(host)
    if real:
        return real[0]
    if mode == "system":
        raise InsecureBackendError(
            f"{ENV_BACKEND}=system but the host has no usable keyring (found "
            f"{backend_name(host)}); unset it and {FIX_HINT}"
        )
    backend = _cryptfile_for(data_dir, env)
    if backend is None:
        raise KeyringNotConfiguredError(
            f"no secure keyring on this host (found {backend_name(host)}): {FIX_HINT}"
        )
    return backend
