"""Files of the command line: safe formats, atomic writes, checksums, signals.

A model is saved as a dict (the fitted pipeline and what ``predict`` needs to
rebuild its input) in one of two formats, chosen by the file name:

* ``*.skops`` (any case): skops, which rebuilds only known types on load;
  other types are loaded only when named with ``--trust-type``;
* anything else: joblib, a pickle, which runs any code the file holds on
  load, so ``predict`` refuses it unless told ``--trust``.

A checksum file ``MODEL.sha256`` (in ``sha256sum`` format) is written beside
the model and checked on load: a truncated or damaged model is refused with a
one-line error. The checksum guards against damage only, not against a
crafted file (whoever ships a model can ship its checksum), so loading without
it (``--no-checksum``) trusts nothing more than loading with it.

Every file the command line writes (model, checksum, predictions, report) is
written to a temporary file beside its target and renamed over it
(``os.replace``), and only a regular file (or nothing) is ever replaced: a
device, FIFO, socket or directory at the target is refused before any fit.
A failed write (full disk, quota) leaves the previous file intact.

Signals: the command line handles SIGINT (Ctrl-C), SIGTERM and SIGHUP with
:func:`on_signal`, which raises :class:`Interrupted`. Temporary files are
removed on the way out; the two renames of a save are never split (a signal
that arrives during them is raised after them). A process killed outright
(SIGKILL) leaves its temporary files behind; they are named after the host
and the process, and a later save to the same target removes those of
processes that no longer run.
"""

import contextlib
import hashlib
import os
import re
import secrets
import signal
import socket
import stat
import tempfile
from pathlib import Path

from skexpreg._cli_data import DataError, names, shown

#: Version of the saved dict; bumped when its keys or the pipeline's input
#: change, so that an old file is refused with a clear message.
FORMAT = 2
# What predict reads from the saved dict.
_KEYS = {"pipeline", "numeric", "categorical", "categories", "target"}

#: The signals the command line turns into :class:`Interrupted`.
SIGNALS = tuple(
    getattr(signal, name)
    for name in ("SIGINT", "SIGTERM", "SIGHUP")
    if hasattr(signal, name)
)


# Signals ---------------------------------------------------------------------


class Interrupted(BaseException):  # noqa: N818 (a signal, like KeyboardInterrupt)
    """A signal stopped the run.

    Not a :class:`KeyboardInterrupt`: scikit-learn's MLPRegressor catches that,
    warns "Training interrupted by user." and returns, and the run would go on
    to save a model over the previous one. Not an :class:`Exception` either,
    so that no ``except Exception`` on the way swallows it.
    """

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum
        #: The model file, when the signal came once the save had completed.
        self.saved = None

    def describe(self):
        """``"Ctrl-C (SIGINT)"``, ``"SIGTERM"``, ..."""
        name = signal.Signals(self.signum).name
        return f"Ctrl-C ({name})" if self.signum == signal.SIGINT else name


_held = 0  # depth of uninterrupted() blocks
_pending = None  # the first signal that came during one


def on_signal(signum, frame):
    """The command line's handler of :data:`SIGNALS`: raise :class:`Interrupted`.

    Inside :func:`uninterrupted`, the signal is held and raised when the
    block ends.
    """
    global _pending
    if _held:
        if _pending is None:
            _pending = signum
        return
    raise Interrupted(signum)


@contextlib.contextmanager
def handling_signals():
    """Turn :data:`SIGNALS` into :class:`Interrupted` inside the block.

    Only from the main thread (the only one that can set signal handlers);
    elsewhere the block runs with the handlers it has.
    """
    global _held, _pending
    try:
        previous = {number: signal.signal(number, on_signal) for number in SIGNALS}
    except ValueError:  # not the main thread
        previous = {}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        _held, _pending = 0, None


@contextlib.contextmanager
def uninterrupted():
    """Hold signals until the block ends, then raise the first as Interrupted.

    Around what a signal must not split: the renames of a save, the removal
    of temporary files. A block that raises drops the held signal: its own
    error ends the run.
    """
    global _held, _pending
    _held += 1
    try:
        yield
    except BaseException:
        _held -= 1
        if not _held:
            _pending = None
        raise
    _held -= 1
    if not _held and _pending is not None:
        signum, _pending = _pending, None
        raise Interrupted(signum)


# Targets -----------------------------------------------------------------------

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
)


def check_regular(path, action):
    """Refuse a ``path`` that exists and is not a regular file.

    ``action`` words the message: ``"save the model to"``. A symbolic link
    is judged by what it points to (a dangling one counts as absent).
    """
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as error:
        raise DataError(
            f"cannot {action} {shown(path)}: {error.strerror or error}"
        ) from None
    if stat.S_ISREG(mode):
        return
    kind = next((kind for test, kind in _KINDS if test(mode)), "not a regular file")
    raise DataError(
        f"cannot {action} {shown(path)}: it is {kind}; only a regular file is "
        "written or replaced"
    )


def check_target(path, action):
    """Fail now, before a long fit, if a file cannot be written at ``path``.

    The target must be absent or a regular file, and its directory must
    exist and take a new file. Also removes the temporary files that killed
    runs left beside it.
    """
    path = Path(path)
    check_regular(path, action)
    directory = path.parent
    if not directory.is_dir():
        raise DataError(
            f"cannot {action} {shown(path)}: directory {shown(directory)} does "
            "not exist"
        )
    remove_stale_temporaries(path)
    probes = []
    try:  # the only reliable test (permissions, read-only mounts, root)
        _temporary(path, probes)
    except OSError as error:
        raise DataError(
            f"cannot {action} {shown(path)}: cannot write in {shown(directory)} "
            f"({error.strerror or error})"
        ) from None
    finally:
        _remove(probes)


def _prefix(path):
    """Temporary files beside ``path``: hidden, and named after their process."""
    host = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:16] or "host"
    return f".{path.name}.skexpreg-{host}-{os.getpid()}-"


def _temporary(path, temporaries):
    """A new file beside ``path``, with the mode ``path`` has or would get.

    Its name is added to ``temporaries`` (for :func:`_remove`) before a signal
    can intervene.
    """
    with uninterrupted():
        descriptor, name = tempfile.mkstemp(
            dir=path.parent, prefix=_prefix(path), suffix=".tmp"
        )
        temporaries.append(name)
    os.close(descriptor)
    try:
        mode = os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)  # read it: there is no other way
        os.umask(umask)
        mode = 0o666 & ~umask
    os.chmod(name, mode)  # mkstemp makes it private (0600)
    return name


def _remove(temporaries):
    with uninterrupted():
        while temporaries:
            with contextlib.suppress(OSError):
                os.unlink(temporaries[-1])
            temporaries.pop()


def remove_stale_temporaries(path):
    """Remove the temporary files of ``path`` left by dead processes.

    Only files named by :func:`_prefix` for this host, whose process no
    longer runs, and that are regular files.
    """
    path = Path(path)
    ours = _prefix(path)
    start = ours[: ours.rindex("-", 0, -1) + 1]  # ".NAME.skexpreg-HOST-"
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return
    for entry in entries:
        if not (entry.name.startswith(start) and entry.name.endswith(".tmp")):
            continue
        pid = entry.name[len(start) :].split("-", 1)[0]
        if not pid.isdigit() or _running(int(pid)):
            continue
        with contextlib.suppress(OSError):
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)


def _running(pid):
    if pid <= 0:
        return True  # not a process of ours: leave it
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it runs, as another user
        return True
    return True


@contextlib.contextmanager
def replacing(path, action, thing, mode="w", **options):
    """A new file, opened with ``mode``, that replaces ``path`` if the block
    completes; a DataError if it cannot be written (the previous file kept).

    ``action`` and ``thing`` word the message: ``"write the report to"``,
    ``"report"``.
    """
    path = Path(path)
    existed = path.is_file()
    temporaries = []
    try:
        check_regular(path, action)  # again: the path may have changed since
        try:
            name = _temporary(path, temporaries)
            with open(name, mode, **options) as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            with uninterrupted():
                os.replace(name, path)
                temporaries.clear()
        except OSError as error:
            kept = f"the previous {thing} is unchanged" if existed else "nothing"
            if not existed:
                kept += " was written"
            raise DataError(
                f"could not {action} {shown(path)} ({error.strerror or error}); {kept}"
            ) from None
    finally:
        _remove(temporaries)


# Saving ------------------------------------------------------------------------


def is_skops(path):
    """Whether ``path`` names a skops file (``.skops`` in any case)."""
    return Path(path).name.lower().endswith(".skops")


def checksum_path(path):
    path = Path(path)
    return path.with_name(path.name + ".sha256")


def check_can_save(path):
    """Fail now, before a long fit, if the model cannot be written at ``path``."""
    path = Path(path)
    check_target(path, "save the model to")
    check_target(checksum_path(path), "save the model's checksum to")
    if is_skops(path):
        _skops()


def save(bundle, path):
    """Write ``bundle`` to ``path`` atomically, with its checksum file.

    On failure, a DataError that says what is on disk: the previous files
    unchanged, nothing saved, or exactly which file changed.
    """
    path = Path(path)
    sidecar = checksum_path(path)
    check_regular(path, "save the model to")  # again: the fit may have been long
    check_regular(sidecar, "save the model's checksum to")
    remove_stale_temporaries(path)
    remove_stale_temporaries(sidecar)
    existed = path.is_file()
    temporaries = []
    replaced = False
    try:
        try:
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
                checksum = _temporary(sidecar, temporaries)
                with open(checksum, "w", encoding="utf-8") as handle:
                    handle.write(f"{digest}  {path.name}\n")
                    handle.flush()
                    os.fsync(handle.fileno())
            except OSError as error:
                kept = (
                    "the previous file is unchanged" if existed else "nothing was saved"
                )
                raise DataError(
                    f"could not save the model to {shown(path)} "
                    f"({error.strerror or error}); {kept}"
                ) from None
            with uninterrupted():
                _replace_both(path, model, sidecar, checksum, existed, temporaries)
                replaced = True
        finally:
            _remove(temporaries)
    except Interrupted as interrupt:
        if replaced:  # the signal came once both files were in place
            interrupt.saved = path
        raise


def _replace_both(path, model, sidecar, checksum, existed, temporaries):
    """Rename the new model and checksum over the old ones, or undo.

    Model first: if the second rename never happens (the process killed
    between them), the old checksum no longer matches and loading refuses
    the file instead of trusting it. Should the second rename fail, the
    previous model comes back from a hard link made beforehand.
    """
    backup = _hard_link(path, temporaries) if existed else None
    had_checksum = sidecar.is_file()
    try:
        os.replace(model, path)
    except OSError as error:
        kept = "the previous file is unchanged" if existed else "nothing was saved"
        raise DataError(
            f"could not save the model to {shown(path)} "
            f"({error.strerror or error}); {kept}"
        ) from None
    try:
        os.replace(checksum, sidecar)
    except OSError as error:
        raise DataError(
            f"could not save the model to {shown(path)}: its checksum file "
            f"{shown(sidecar)} could not be written ({error.strerror or error}); "
            + _undo(path, sidecar, backup, existed, had_checksum)
        ) from None


def _hard_link(path, temporaries):
    """A second name for the current ``path`` (None where links fail)."""
    for _ in range(10):
        name = path.with_name(f"{_prefix(path)}{secrets.token_hex(4)}.tmp")
        try:
            os.link(path, name)
        except FileExistsError:
            continue
        except OSError:  # a file system without hard links
            return None
        temporaries.append(str(name))
        return name
    return None


def _undo(path, sidecar, backup, existed, had_checksum):
    """Put the previous model back; say what is on disk."""
    try:
        if backup is not None:
            os.replace(backup, path)
            return "the previous model and its checksum file are unchanged"
        if not existed:
            os.unlink(path)
            return "nothing was saved"
    except OSError:
        pass
    held = "still holds the previous model's checksum" if had_checksum else "is absent"
    return (
        f"{shown(path)} now holds the new model but {shown(sidecar)} {held}, so "
        "'predict' refuses the model until it is saved again"
    )


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


# Loading -----------------------------------------------------------------------


def load(path, *, trust=False, trusted_types=(), checksum=True):
    """The saved dict at ``path``, checked; any failure is a DataError.

    Parameters
    ----------
    path : path-like
    trust : bool, default=False
        Load a pickle-based (joblib) file, which runs any code it holds.
        Nothing else: it does not widen what a skops file may hold.
    trusted_types : iterable of str, default=()
        Types a skops file may hold beyond :data:`skexpreg.TRUSTED_TYPES`
        (and the ``numpy.dtype`` of the preprocessing), as skops names them.
    checksum : bool, default=True
        Require the checksum file. With False, a model without one is loaded
        unchecked (with the same trust); a checksum file that is present is
        checked anyway, and one that does not match is always refused.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"model file not found: {shown(path)}")
    if not path.is_file():
        raise DataError(f"{shown(path)} is not a regular file, so not a model file")
    skops = is_skops(path)
    if not skops and not trust:
        raise DataError(
            f"{shown(path)} is not a .skops file, so it would be loaded with "
            "pickle (joblib), which runs any code the file holds: pass --trust "
            "only for a file you made or whose source you trust, or save the "
            "model as a .skops file"
        )
    if not skops and trusted_types:
        raise DataError(
            f"--trust-type names types of a .skops file; {shown(path)} is a "
            "pickle-based (joblib) file"
        )
    _verify(path, checksum)
    try:
        bundle = _load_skops(path, trusted_types) if skops else _load_joblib(path)
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
    if not (_KEYS <= bundle.keys() and hasattr(bundle["pipeline"], "predict")):
        raise DataError(
            f"cannot load {shown(path)}: not a model saved by 'python -m skexpreg "
            "--save' (its contents are not a fitted pipeline and its columns)"
        )
    return bundle


def _verify(path, required):
    sidecar = checksum_path(path)
    if not sidecar.is_file():
        if not required:
            return
        raise DataError(
            f"checksum file {shown(sidecar)} not found, so {shown(path)} cannot "
            "be checked for damage: restore it (--save writes it beside the "
            "model), or pass --no-checksum to load the model unchecked (which "
            "trusts no more types than with the checksum)"
        )
    try:
        expected = sidecar.read_text(encoding="utf-8").split()[0].lower()
    except (OSError, UnicodeDecodeError, IndexError):
        expected = None
    if expected != _sha256(path):
        raise DataError(
            f"{shown(path)} is damaged, was changed after it was saved, or its "
            f"save was cut off: its SHA-256 does not match {shown(sidecar)}"
        )


def _load_joblib(path):
    import joblib

    return joblib.load(path)  # pickle: the user passed --trust


def _load_skops(path, trusted_types):
    import numpy as np

    from skexpreg._trusted import TRUSTED_TYPES, qualified_name

    # SimpleImputer keeps the numpy dtype it was fitted on.
    known = {*TRUSTED_TYPES, qualified_name(np.dtype), *trusted_types}
    skops_io = _skops()
    untrusted = set(skops_io.get_untrusted_types(file=path))
    unknown = sorted(untrusted - known)
    if unknown:
        options = " ".join(f"--trust-type {name}" for name in unknown)
        raise DataError(
            f"{shown(path)} holds types that are not known to be safe (loading "
            f"them can run their code): {names(unknown)}; read what they are, "
            f"and only if you trust them, name each: {_printable_text(options)}"
        )
    return skops_io.load(path, trusted=sorted(untrusted))


def _printable_text(text):
    return shown(text)[1:-1]
