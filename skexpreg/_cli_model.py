"""Model files of the command line: safe formats, atomic saves, checksums.

A model is saved as a dict (the fitted pipeline and what ``predict`` needs to
rebuild its input) in one of two formats, chosen by the file name:

* ``*.skops`` (any case): skops, which rebuilds only known types on load;
* anything else: joblib, a pickle, which runs any code the file holds on
  load, so ``predict`` refuses it unless told ``--trust``.

Saving writes a temporary file beside the target and renames it over the
target (``os.replace``), so that a failed save (full disk, quota) leaves an
existing model intact. A checksum file ``MODEL.sha256`` (in ``sha256sum``
format) is written beside the model and checked on load: a truncated or
damaged model is refused with a one-line error.
"""

import hashlib
import os
import tempfile
from pathlib import Path

from skexpreg._cli_data import DataError, names, shown

#: Version of the saved dict; bumped when its keys or the pipeline's input
#: change, so that an old file is refused with a clear message.
FORMAT = 2


def is_skops(path):
    """Whether ``path`` names a skops file (``.skops`` in any case)."""
    return Path(path).name.lower().endswith(".skops")


def checksum_path(path):
    path = Path(path)
    return path.with_name(path.name + ".sha256")


def check_can_save(path):
    """Fail now, before a long fit, if the model cannot be written at ``path``."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"cannot save the model to {shown(path)}: it is a directory")
    directory = path.parent
    if not directory.is_dir():
        raise DataError(
            f"cannot save the model to {shown(path)}: directory "
            f"{shown(directory)} does not exist"
        )
    try:  # the only reliable test (permissions, read-only mounts, root)
        descriptor, probe = tempfile.mkstemp(dir=directory, prefix=".skexpreg-")
    except OSError as error:
        raise DataError(
            f"cannot save the model to {shown(path)}: cannot write in "
            f"{shown(directory)} ({error.strerror or error})"
        ) from None
    os.close(descriptor)
    os.unlink(probe)
    if is_skops(path):
        _skops()


def save(bundle, path):
    """Write ``bundle`` to ``path`` atomically, with its checksum file."""
    path = Path(path)
    existed = path.exists()
    temporaries = []
    try:
        model = _temporary(path, temporaries)
        with open(model, "wb") as handle:
            if is_skops(path):
                _skops().dump(bundle, handle)
            else:
                import joblib

                joblib.dump(bundle, handle)
            handle.flush()
            os.fsync(handle.fileno())
        digest = _sha256(model)
        checksum = _temporary(checksum_path(path), temporaries)
        with open(checksum, "w", encoding="utf-8") as handle:
            handle.write(f"{digest}  {path.name}\n")
            handle.flush()
            os.fsync(handle.fileno())
        # Model first: if the second rename never happens, the old checksum
        # no longer matches and loading refuses the file instead of trusting it.
        os.replace(model, path)
        os.replace(checksum, checksum_path(path))
    except OSError as error:
        for temporary in temporaries:
            try:
                os.unlink(temporary)
            except FileNotFoundError:
                pass
        kept = "the previous file is unchanged" if existed else "nothing was saved"
        raise DataError(
            f"could not save the model to {shown(path)} "
            f"({error.strerror or error}); {kept}"
        ) from None


def _temporary(path, temporaries):
    """A new file beside ``path``, with the mode ``path`` has or would get."""
    descriptor, name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    temporaries.append(name)
    try:
        mode = os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)  # read it: there is no other way
        os.umask(umask)
        mode = 0o666 & ~umask
    os.close(descriptor)
    os.chmod(name, mode)  # mkstemp makes it private (0600)
    return name


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _skops():
    try:
        import skops.io
    except ImportError:
        raise DataError(
            ".skops model files need the skops package: pip install skops"
        ) from None
    return skops.io


def load(path, trust=False):
    """The saved dict at ``path``, checked; any failure is a DataError.

    ``trust`` accepts a pickle-based (joblib) file, a skops file with types
    beyond :data:`skexpreg.TRUSTED_TYPES`, and a model without its checksum
    file; a checksum that does not match is refused whatever ``trust`` says.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"model file not found: {shown(path)}")
    skops = is_skops(path)
    if not skops and not trust:
        raise DataError(
            f"{shown(path)} is not a .skops file, so it would be loaded with "
            "pickle (joblib), which runs any code the file holds: pass --trust "
            "only for a file you made or whose source you trust, or save the "
            "model as a .skops file"
        )
    _verify(path, trust)
    try:
        bundle = _load_skops(path, trust) if skops else _load_joblib(path)
    except DataError:
        raise
    except Exception as error:  # damaged files fail in many ways
        reason = str(error).splitlines()[0] if str(error) else ""
        raise DataError(
            f"cannot load {shown(path)}: damaged, or not a model saved by "
            f"'python -m skexpreg --save' ({type(error).__name__}: {reason})"
        ) from None
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        raise DataError(
            f"{shown(path)} was not saved by this version of the command line: "
            "fit and save the model again"
        )
    return bundle


def _verify(path, trust):
    sidecar = checksum_path(path)
    if not sidecar.is_file():
        if trust:
            return
        raise DataError(
            f"checksum file {shown(sidecar)} not found, so {shown(path)} cannot "
            "be checked for damage: restore it (--save writes it beside the "
            "model) or pass --trust to load the model unchecked"
        )
    try:
        expected = sidecar.read_text(encoding="utf-8").split()[0].lower()
    except (OSError, UnicodeDecodeError, IndexError):
        expected = None
    if expected != _sha256(path):
        raise DataError(
            f"{shown(path)} is damaged or was changed after it was saved: its "
            f"SHA-256 does not match {shown(sidecar)}"
        )


def _load_joblib(path):
    import joblib

    return joblib.load(path)  # pickle: the user passed --trust


def _load_skops(path, trust):
    import numpy as np

    from skexpreg._trusted import TRUSTED_TYPES, qualified_name

    # SimpleImputer keeps the numpy dtype it was fitted on.
    known = {*TRUSTED_TYPES, qualified_name(np.dtype)}
    skops_io = _skops()
    untrusted = skops_io.get_untrusted_types(file=path)
    unknown = sorted(set(untrusted) - known)
    if unknown and not trust:
        raise DataError(
            f"{shown(path)} holds types that are not known to be safe: "
            f"{names(unknown)}; read them and pass --trust to load anyway"
        )
    return skops_io.load(path, trusted=untrusted)
