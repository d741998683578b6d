"""Writing case folders safely, whatever happens to the process or the disk.

Every command that writes a folder X (``ingest`` into a case, ``simulate``, ``detect``'s
findings, ``share package``) goes through :class:`Staging`:

1. it takes X's exclusive lock, ``flock`` on the sibling file ``.X.lock`` (X itself is
   replaced, so it cannot hold the lock), and waits for another writer at most
   ``SCAMTRACE_LOCK_WAIT`` seconds (:func:`case_lock`); readers take the shared lock;
2. it puts right what a killed writer left (:func:`recover`): a ``.X.old-PID`` that was
   moved aside while X is missing is moved back; other leftovers of dead processes go;
3. it builds the new folder in the hidden sibling ``.X.<kind>-PID``;
4. it flushes every file and folder to the disk, then swaps the new folder in
   (:func:`swap_in`): in one step where the system can exchange two names (Linux
   ``renameat2(RENAME_EXCHANGE)``), so X always names a complete folder; elsewhere by two
   renames that step 2 undoes after a crash between them;
5. it removes the old folder and lets go of the lock.

A kill at any moment leaves the old X or the new X; an error (a full disk) leaves the old X
and is raised as a one-line :class:`CaseFolderError` naming the path. See
``docs/adr/0010-crash-safe-case-folders.md``.
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import errno
import fcntl
import functools
import json
import logging
import os
import re
import shutil
import signal
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from scamtrace.core.contract import Table
from scamtrace.core.errors import CaseFolderError
from scamtrace.core.phones import dial_plan

TableFormat = Literal["parquet", "csv"]

log = logging.getLogger(__name__)

#: Seconds a writer waits for another one to finish with the same folder (environment).
LOCK_WAIT_ENV = "SCAMTRACE_LOCK_WAIT"
LOCK_WAIT_S = 600.0
#: Names a point where the process kills itself (fault-injection tests; see :func:`fault`).
FAULT_ENV = "SCAMTRACE_FAULT"
#: ``rename`` forces the two-rename swap where the one-step exchange is available (tests).
SWAP_ENV = "SCAMTRACE_SWAP"

#: Hidden siblings a writer of X makes: ``.X.partial-PID``, ``.X.ingest-PID``, ``.X.old-PID``.
_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<kind>partial|ingest|old)-(?P<pid>[0-9]+)$")


class CaseBusyError(CaseFolderError):
    """Another process writes the folder, and did not finish within the wait allowed."""


def fault(point: str) -> None:
    """Die here, as a ``kill -9`` would, when ``SCAMTRACE_FAULT`` names ``point``: the
    fault-injection tests reach every step of a write this way."""
    if os.environ.get(FAULT_ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)


def os_error(exc: OSError, where: Path, doing: str) -> CaseFolderError:
    """A one-line error naming the file (``exc.filename`` where the system gave one)."""
    path = exc.filename if exc.filename is not None else where
    reason = exc.strerror or str(exc) or type(exc).__name__
    return CaseFolderError(f"{path}: {reason} while {doing}")


def ensure_apart(output: Path, *inputs: Path | None, option: str = "--out") -> None:
    """Refuse an output that is, holds or lies inside one of ``inputs``.

    Replacing such an output would delete or rewrite what the command is reading (``detect
    CASE --out CASE --overwrite`` used to delete the case). Paths are compared resolved, so a
    symbolic link or ``..`` does not hide that two names are one folder.
    """
    target = output.resolve()
    for given in inputs:
        if given is None or str(given) == "-":
            continue
        source = given.resolve()
        if target == source:
            why = "is"
        elif target in source.parents:
            why = "holds"
        elif source in target.parents:
            why = "lies inside"
        else:
            continue
        raise CaseFolderError(
            f"{output}: {option} {why} the input {given}; writing there would replace what is "
            "being read. Choose an output outside the inputs."
        )


def check_target(target: Path, option: str = "--out") -> Path:
    """``target`` resolved, refused where replacing it would pull the floor from under the
    command: the file system's root, or the current folder or one that holds it."""
    resolved = target.resolve()
    if resolved.parent == resolved:
        raise CaseFolderError(f"{target}: {option} cannot be the root of the file system")
    here = Path.cwd().resolve()
    if resolved == here or resolved in here.parents:
        raise CaseFolderError(
            f"{target}: {option} is the current folder or holds it; a folder written by "
            f"scamtrace is replaced whole, so name it from outside (e.g. {option} "
            f"../{resolved.name})"
        )
    return resolved


# ------------------------------------------------------------------------------- locking
def lock_path(target: Path) -> Path:
    return target.parent / f".{target.name}.lock"


def lock_wait() -> float:
    raw = os.environ.get(LOCK_WAIT_ENV, "")
    try:
        return max(0.0, float(raw)) if raw else LOCK_WAIT_S
    except ValueError as exc:
        raise CaseFolderError(f"{LOCK_WAIT_ENV}={raw!r}: expected a number of seconds") from exc


@contextlib.contextmanager
def case_lock(target: Path, *, shared: bool = False, purpose: str = "scamtrace",
              wait: float | None = None) -> Iterator[None]:  # fmt: skip
    """Hold ``target``'s lock: exclusive for a writer, shared for a reader.

    A writer that finds the folder busy says so and waits up to ``SCAMTRACE_LOCK_WAIT``
    seconds (default 600; 0 fails at once; ``wait`` overrides), then fails naming the
    holder's pid. A reader where the lock file cannot be made (read-only evidence media)
    reads without it: nobody can be writing there through scamtrace either.

    The lock file is removed by whoever leaves holding it exclusively, so none stays beside
    the folder; a process that locked a file removed meanwhile sees that it is no longer the
    one named ``.X.lock`` and locks the new one.
    """
    path = lock_path(target)
    limit = lock_wait() if wait is None else wait
    deadline = time.monotonic() + limit
    told = False
    while True:
        fd = _open_lock(path, target, shared)
        if fd < 0:
            yield
            return
        try:
            told = _acquire(fd, path, target, shared, deadline, limit, told)
        except BaseException:
            os.close(fd)
            raise
        if _names(path, fd):
            break
        os.close(fd)  # its holder removed it on leaving: take the one there now
    try:
        if not shared:
            with contextlib.suppress(OSError):  # only a name for the waiting ones' message
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()} {purpose}\n".encode(), 0)
        yield
    finally:
        try:
            if shared:
                # The last reader out removes it too, where no one else holds it.
                with contextlib.suppress(OSError):
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    shared = False
            if not shared and _names(path, fd):
                with contextlib.suppress(OSError):
                    path.unlink()
        finally:
            os.close(fd)  # lets go of the lock


def _open_lock(path: Path, target: Path, shared: bool) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        with contextlib.suppress(OSError):  # someone else's lock file, readable only
            return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        if shared:
            return -1
        raise os_error(exc, path, f"taking the lock of {target}") from exc


def _names(path: Path, fd: int) -> bool:
    """Whether ``path`` still names the file open as ``fd``."""
    try:
        now, held = os.stat(path), os.fstat(fd)
    except OSError:
        return False
    return (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino)


def _acquire(fd: int, path: Path, target: Path, shared: bool, deadline: float, limit: float,
             told: bool) -> bool:  # fmt: skip
    """Lock ``fd``, polling until ``deadline``; True once the wait was announced."""
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    what = "read" if shared else "write"
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return told
        except BlockingIOError:
            pass
        if time.monotonic() >= deadline:
            raise CaseBusyError(
                f"{target}: in use by {_holder(fd, path)}; not {what}ing it"
                + (f" after waiting {limit:g} s" if limit > 0 else "")
                + f". Run again when it ends (or set {LOCK_WAIT_ENV} to wait longer); "
                "nothing was changed"
            )
        if not told:
            log.warning("%s: in use by %s; waiting up to %g s to %s it (%s)", target,
                        _holder(fd, path), limit, what, LOCK_WAIT_ENV)  # fmt: skip
            told = True
        time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))


def _holder(fd: int, path: Path) -> str:
    """``pid N (what it does)`` for whoever holds the lock: from ``/proc/locks`` where the
    system has it (readers included), else from what the last writer wrote in the file."""
    pids: list[str] = []
    with contextlib.suppress(OSError):
        st = os.fstat(fd)
        inode = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
        for line in Path("/proc/locks").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 6 and parts[1] == "FLOCK" and parts[5] == inode:
                pids.append(parts[4])  # a waiting lock's line has "->" and is skipped here
    named = ""
    with contextlib.suppress(OSError, UnicodeDecodeError):
        named = path.read_text(encoding="utf-8").strip()
    pid, _, purpose = named.partition(" ")
    pids = [p for p in dict.fromkeys(pids) if p != str(os.getpid())] or pids
    if pids:
        return ", ".join(f"pid {p}" + (f" ({purpose})" if p == pid and purpose else "")
                         for p in pids)  # fmt: skip
    return f"pid {pid} ({purpose})" if pid else "another process"


# ------------------------------------------------------------------------------ recovery
def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's
    try:  # a zombie (killed, not yet reaped) writes nothing more
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def recover(target: Path) -> list[str]:
    """Put right what killed writers of ``target`` left beside it; call with its exclusive
    lock held. A ``.X.old-PID`` while X is missing (a kill between the two renames of the
    fallback swap) is moved back; every other leftover of a dead process is removed. A live
    process's folder is never touched. Returns what was done, one line each."""
    parent = target.parent
    done: list[str] = []
    try:
        entries = sorted(parent.iterdir(), key=lambda p: p.name)
    except OSError:
        return done
    for entry in entries:
        match = _LEFTOVER.match(entry.name)
        if match is None or match["name"] != target.name:
            continue
        pid = int(match["pid"])
        if pid != os.getpid() and _alive(pid):
            log.warning("%s: left as it is: process %d, which made it, is running", entry, pid)
            continue
        if match["kind"] == "old" and not os.path.lexists(target):
            try:
                os.rename(entry, target)
                _fsync_dir(parent)
            except OSError as exc:
                raise os_error(exc, entry, f"putting {target} back from {entry.name}") from exc
            done.append(f"{target}: put back from {entry.name} (a write was cut short)")
        else:
            _remove(entry)
            done.append(f"{entry}: removed (left by process {pid}, which ended)")
    for line in done:
        log.info("%s", line)
    return done


def recover_missing(target: Path) -> None:
    """For a reader that finds ``target`` missing: where a killed writer moved it aside,
    move it back (under the writers' lock, without waiting for one)."""
    if os.path.lexists(target) or not target.parent.is_dir():
        return
    aside = [p for p in target.parent.iterdir()
             if (m := _LEFTOVER.match(p.name)) and m["name"] == target.name
             and m["kind"] == "old"]  # fmt: skip
    if not aside:
        return
    with contextlib.suppress(CaseFolderError), case_lock(target, purpose="recovery", wait=0):
        recover(target)


def _remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:  # what is left is hidden and will be tried again next time
        log.warning("%s: could not be removed: %s", path, exc.strerror or exc)


# ---------------------------------------------------------------------------- the swap
def _fsync(path: Path, kind: int) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | kind)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    _fsync(path, os.O_NOFOLLOW)


def _fsync_dir(path: Path) -> None:
    _fsync(path, os.O_DIRECTORY)


def fsync_tree(root: Path) -> None:
    """Flush every file under ``root`` and every folder's entries to the disk: a rename is
    ordered before the data it names only after this (ext4, xfs, btrfs alike)."""
    for folder, _dirs, files in os.walk(root, topdown=False):
        for name in files:
            path = Path(folder) / name
            if not path.is_symlink():
                _fsync_file(path)
        _fsync_dir(Path(folder))


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


@functools.cache
def _renameat2() -> Callable[..., int] | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2  # glibc 2.28 or later; musl 1.2.3 or later
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


def can_exchange() -> bool:
    """Whether this system swaps two names in one step (where the file system allows)."""
    return os.environ.get(SWAP_ENV) != "rename" and _renameat2() is not None


def _exchange(a: Path, b: Path) -> bool:
    """Swap the names ``a`` and ``b`` in one step; False where the system or the file system
    cannot (then nothing was done)."""
    fn = _renameat2() if can_exchange() else None
    if fn is None:
        return False
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def swap_in(staged: Path, target: Path) -> None:
    """Make the complete folder ``staged`` (on ``target``'s file system) be ``target``, and
    remove what ``target`` was. Call with ``target``'s exclusive lock held.

    Everything is flushed to the disk first. Then one exchange of names where the system
    has it: ``target`` names the old folder and then the new one, never nothing. Elsewhere
    two renames, ``target`` to ``.X.old-PID`` and ``staged`` to ``target``: a crash between
    them is undone by :func:`recover`, an error by putting the old folder back at once."""
    parent = target.parent
    try:
        fsync_tree(staged)
        _fsync_dir(staged.parent)
    except OSError as exc:
        raise os_error(exc, staged, f"writing {target}") from exc
    fault("before-swap")
    try:
        if not os.path.lexists(target):
            os.rename(staged, target)
            _fsync_dir(parent)
            fault("swapped")
            return
        if _exchange(staged, target):
            _fsync_dir(parent)
            fault("swapped")
            _remove(staged)  # now the old folder
            return
    except OSError as exc:
        raise os_error(exc, target, f"replacing {target}") from exc
    old = parent / f".{target.name}.old-{os.getpid()}"
    try:
        os.rename(target, old)
    except OSError as exc:
        raise os_error(exc, target, f"replacing {target}") from exc
    try:
        _fsync_dir(parent)
        fault("between-renames")
        os.rename(staged, target)
        _fsync_dir(parent)
    except OSError as exc:
        with contextlib.suppress(OSError):
            if not os.path.lexists(target):
                os.rename(old, target)
        raise os_error(exc, target, f"replacing {target}") from exc
    fault("swapped")
    _remove(old)


def write_file_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Write one file through a hidden sibling, flushed and renamed over ``path``: a crash
    leaves the old file or the new one, an error the old one and a one-line message."""
    target = check_target(path, "--out")
    recover(target)  # a killed run's hidden file (its pid is checked: never a live one's)
    try:
        replace_file(target, write, durable=True)
    except OSError as exc:
        raise os_error(exc, path, f"writing {path}") from exc


def replace_file(path: Path, write: Callable[[Path], object], *, durable: bool = False) -> None:
    """``path`` written anew by ``write`` into a hidden sibling renamed over it, never written
    through: a hard link to the old file elsewhere (the old case's, from a staging copy)
    keeps the old content. ``durable``: flushed to the disk before and after the rename, for
    a file that is itself an output; a file inside a staging folder is flushed with it."""
    tmp = path.parent / f".{path.name}.partial-{os.getpid()}"
    try:
        write(tmp)
        if durable:
            _fsync_file(tmp)
            fault("before-swap")
        os.replace(tmp, path)
        if durable:
            _fsync_dir(path.parent)
    except BaseException:
        _remove(tmp)
        raise


class Staging:
    """The hidden sibling folder where a new ``target`` is built, under ``target``'s lock.

    :meth:`open` locks, recovers and makes the folder; :meth:`commit` swaps it (or a folder
    inside it) in; :meth:`abandon` removes it. Both let go of the lock."""

    def __init__(self, target: Path, kind: str = "partial", *, option: str = "--out",
                 purpose: str = "scamtrace") -> None:  # fmt: skip
        self.given = target
        self.target = check_target(target, option)
        self.root = self.target.parent / f".{self.target.name}.{kind}-{os.getpid()}"
        self.purpose = purpose
        self._lock: contextlib.ExitStack | None = None

    def open(self) -> Path:
        stack = contextlib.ExitStack()
        try:
            try:
                self.target.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise os_error(exc, self.target.parent, f"making {self.given}") from exc
            stack.enter_context(case_lock(self.target, purpose=self.purpose))
            recover(self.target)
            try:
                if os.path.lexists(self.root):
                    _remove(self.root)
                self.root.mkdir()
            except OSError as exc:
                raise os_error(exc, self.root, f"writing {self.given}") from exc
        except BaseException:
            stack.close()
            raise
        self._lock = stack
        fault("staged")
        return self.root

    def commit(self, built: Path | None = None) -> None:
        """Swap ``built`` (the staging folder, or a folder inside it) in for the target."""
        try:
            swap_in(built or self.root, self.target)
        except BaseException:
            self.abandon()
            raise
        _remove(self.root)
        self._release()

    def abandon(self) -> None:
        _remove(self.root)
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None



class TableSink:
    """One contract table, written batch by batch in its declared schema."""

    def __init__(
        self, path: Path, table: Table, fmt: TableFormat, utc_offset_hours: float = 0.0
    ) -> None:
        self.table = table
        self.fmt = fmt
        self.rows = 0
        self._offset = utc_offset_hours
        self._parquet: pq.ParquetWriter | None = None
        self._csv: pacsv.CSVWriter | None = None
        self._path = path

    def write(self, batch: pa.Table) -> None:
        batch = batch.select(self.table.column_names).cast(self.table.schema)
        self.rows += batch.num_rows
        if self.fmt == "parquet":
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(
                    self._path, self.table.schema, compression="zstd", store_schema=False
                )
            self._parquet.write_table(batch, row_group_size=1 << 20)
            return
        text = csv_ready(batch, self._offset)
        if self._csv is None:
            self._csv = pacsv.CSVWriter(self._path, text.schema)
        self._csv.write_table(text)

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        elif self._csv is not None:
            self._csv.close()
        elif self.fmt == "parquet":
            pq.write_table(self.table.schema.empty_table(), self._path, store_schema=False)
        else:
            self._path.write_text(",".join(self.table.column_names) + "\n", encoding="utf-8")


def csv_ready(batch: pa.Table, utc_offset_hours: float) -> pa.Table:
    """Render a batch the way a holder's CSV export looks: ISO 8601 times with the holder's UTC
    offset, ``true``/``false`` booleans, decimals as plain numbers."""
    sign = "+" if utc_offset_hours >= 0 else "-"
    minutes = round(abs(utc_offset_hours) * 60)
    suffix = f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
    columns = []
    for name in batch.column_names:
        col = batch.column(name)
        if pa.types.is_timestamp(col.type):
            local = pc.add(col.cast(pa.timestamp("us")), pa.scalar(
                int(utc_offset_hours * 3_600_000_000), pa.duration("us")))  # fmt: skip
            text = pc.strftime(local, format="%Y-%m-%dT%H:%M:%S")
            col = pc.binary_join_element_wise(text, pa.scalar(suffix), "")
        elif pa.types.is_decimal(col.type) or pa.types.is_date(col.type):
            col = col.cast(pa.string())
        columns.append(col)
    return pa.table(columns, names=batch.column_names)


class CaseFolderWriter:
    """Context manager that builds a case (or findings) folder aside and swaps it in on
    success (see the module's docstring); on an error the old folder stays as it was.

    ``replaces``: where given, ``--overwrite`` replaces only a folder holding one of these
    names (what this command writes), never a folder of other files given by mistake."""

    def __init__(
        self, out: Path, *, overwrite: bool = False, subfolders: Sequence[str] = ("truth",),
        replaces: Sequence[str] = (), purpose: str = "scamtrace",
    ) -> None:  # fmt: skip
        self.out = out
        self.overwrite = overwrite
        self.subfolders = tuple(subfolders)
        self.replaces = tuple(replaces)
        self._staging = Staging(out, "partial", purpose=purpose)
        self.tmp = self._staging.root
        self._sinks: list[TableSink] = []

    def __enter__(self) -> CaseFolderWriter:
        # Locked and recovered first: a folder a killed run moved aside is back before it is
        # judged occupied or not.
        self.tmp = self._staging.open()
        try:
            self._check_occupied()
            for sub in self.subfolders:
                (self.tmp / sub).mkdir(parents=True)
        except BaseException as exc:
            self._staging.abandon()
            if isinstance(exc, OSError):
                raise os_error(exc, self.tmp, f"writing {self.out}") from exc
            raise
        return self

    def _check_occupied(self) -> None:
        out = self._staging.target
        occupied = out.exists() and (not out.is_dir() or any(out.iterdir()))
        if not occupied:
            return
        if not self.overwrite:
            raise CaseFolderError(
                f"{self.out}: already exists and is not empty; choose another folder or "
                "pass --overwrite to replace it"
            )
        if self.replaces and not (out.is_dir() and any((out / n).exists() for n in self.replaces)):
            raise CaseFolderError(
                f"{self.out}: holds no {' or '.join(self.replaces)}, so scamtrace did not write "
                "it; --overwrite replaces only such a folder. Choose another folder"
            )

    def sink(self, table: Table, fmt: TableFormat, utc_offset_hours: float = 0.0) -> TableSink:
        s = TableSink(self.tmp / f"{table.name}.{fmt}", table, fmt, utc_offset_hours)
        self._sinks.append(s)
        return s

    def path(self, relative: str) -> Path:
        return self.tmp / relative

    def write_json(self, relative: str, obj: Any) -> None:
        text = json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False, default=str)
        self.path(relative).write_text(text + "\n", encoding="utf-8")

    def write_csv_rows(
        self, relative: str, header: Sequence[str], rows: Iterable[Sequence[object]]
    ) -> None:
        with self.path(relative).open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(header)
            w.writerows(rows)

    def write_csv_table(self, relative: str, table: pa.Table) -> None:
        pacsv.write_csv(table, self.path(relative))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            try:
                for s in self._sinks:
                    s.close()
            except BaseException as failed:
                exc = failed
        if exc is not None:
            for s in self._sinks:
                with contextlib.suppress(Exception):  # already failing: keep the first error
                    s.close()
            self._staging.abandon()
            if isinstance(exc, OSError):
                # A full disk and the like: the old folder is as it was; say where, in one line.
                raise os_error(exc, self.tmp, f"writing {self.out}") from exc
            if exc_type is None:
                raise exc
            return
        self._staging.commit()


HOLDER = "holder.json"


def read_holder(folder: Path) -> dict[str, Any] | None:
    """``holder.json`` of ``folder`` as written (None when there is none): the default
    country national numbers belong to (``country``) and per-table ones (``tables``)."""
    path = folder / HOLDER
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CaseFolderError(f"{path}: line {exc.lineno}: not valid JSON: {exc.msg}") from exc
    if not isinstance(raw, dict):
        raise CaseFolderError(f"{path}: expected an object with 'country' and 'tables'")
    return raw


def write_holder(folder: Path, holder: dict[str, Any]) -> None:
    """Write ``holder.json`` into ``folder`` (a staging folder: see :func:`replace_file`)."""
    text = json.dumps(holder, indent=2) + "\n"
    replace_file(folder / HOLDER, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def holder_countries(folder: Path, override: str | None = None) -> tuple[str, dict[str, str]]:
    """The default holder country and per-table overrides from ``holder.json``."""
    path = folder / HOLDER
    raw = read_holder(folder) or {}
    country = str(raw.get("country", ""))
    tables = {str(k): str(v) for k, v in (raw.get("tables") or {}).items()}
    if override:
        country, tables = override, {}
    if not country:
        raise CaseFolderError(
            f"{path}: no holder country; national numbers cannot be read without one "
            "(write holder.json or pass --country)"
        )
    for code in (country, *tables.values()):
        dial_plan(code)  # fails early on an unknown country
    return country.upper(), {k: v.upper() for k, v in tables.items()}
