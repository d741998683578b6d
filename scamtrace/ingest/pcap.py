"""SIP packet captures (pcap and pcapng, plain or compressed) into ``voip_cdr``, one row per call.

The dissection is Wireshark's: ``tshark`` reads the capture in one pass and prints the SIP
fields of every SIP frame as tab-separated text, streamed in blocks into a temporary DuckDB
database on disk, where the messages are grouped into dialogs by Call-ID. A big capture is cut
by ``editcap`` into pieces that several tshark processes read at once (see
:class:`PcapReader`), so that neither tshark's memory nor ours grows with the capture.

* the call is the dialog's *initial* INVITE (no To tag; retried with credentials after a
  401/407 challenge, the retry with the highest CSeq is the attempt that counts); its first
  copy gives ``start_time``, ``source_ip`` (the innermost IP header, so tunnelled or mirrored
  traffic reads right), ``user_agent`` and the ``_line`` (its frame number);
* ``sip_status`` is the final response to that attempt (a 2xx if any, else the first final
  response); ``duration_s`` is from the first 2xx to the first BYE after it, 0 when not
  answered (answered but no BYE in the capture: to the dialog's last message seen);
* ``sip_account`` is the digest username of Authorization / Proxy-Authorization, else the
  From user; ``from_number`` is P-Asserted-Identity, else P-Preferred-Identity, else the
  From user; ``to_number`` the To user, else the Request-URI user (a tel: URI gives its
  number; %-escapes are decoded and user parameters such as ``;npdi`` dropped).

Set aside, with the frame number as line: a dialog with no final response in the capture, a
dialog whose initial INVITE the capture lacks (it started mid-call), a frame carrying several
SIP messages (SIP over TCP can pack them; tshark's fields cannot be split per message), and a
capture cut short (the rows before the cut are kept). SIP that is not a call (REGISTER,
OPTIONS, SUBSCRIBE, MESSAGE...) is no row of ``voip_cdr`` and is skipped, as are copies of
SIP packets quoted in ICMP errors.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv

from scamtrace.core import contract
from scamtrace.ingest.base import TYPING_ROWS, Batch, IngestError, ReadContext, Rejected, coerce

TABLE = "voip_cdr"

#: tshark fields, in output order, and the column each becomes.
FIELDS: tuple[tuple[str, str], ...] = (
    ("frame.number", "frame"),
    ("frame.time_epoch", "epoch"),
    ("frame.protocols", "protocols"),
    ("ip.src", "ip4"),
    ("ipv6.src", "ip6"),
    ("sip.Call-ID", "call_id"),
    ("sip.Method", "method"),
    ("sip.Status-Code", "status"),
    ("sip.CSeq.seq", "cseq"),
    ("sip.CSeq.method", "cseq_method"),
    ("sip.to.tag", "to_tag"),
    ("sip.from.user", "from_user"),
    ("sip.from.addr", "from_addr"),
    ("sip.to.user", "to_user"),
    ("sip.to.addr", "to_addr"),
    ("sip.r-uri.user", "ruri_user"),
    ("sip.pai.user", "pai_user"),
    ("sip.pai.addr", "pai_addr"),
    ("sip.ppi.user", "ppi_user"),
    ("sip.ppi.addr", "ppi_addr"),
    ("sip.User-Agent", "user_agent"),
    ("sip.auth.username", "auth_user"),
)
#: Separates the occurrences of one field in a frame (tunnels repeat ip.src; TCP may pack
#: several SIP messages in one segment).
AGGREGATOR = "\x1f"
#: SIP, but not the copy of a SIP packet quoted inside an ICMP error.
DISPLAY_FILTER = "sip && !icmp && !icmpv6"

INSTALL_HINT = ("install Wireshark's command-line tools: Debian/Ubuntu "
                "`apt-get install tshark`, Fedora/RHEL `dnf install wireshark-cli`, "
                "macOS `brew install wireshark`")  # fmt: skip

#: Classic pcap (microsecond, nanosecond, Kuznetzov's modified), either byte order; pcapng.
PCAP_MAGICS = tuple(bytes.fromhex(h) for h in (
    "a1b2c3d4", "d4c3b2a1", "a1b23c4d", "4d3cb2a1", "a1b2cd34", "34cdb2a1"))  # fmt: skip
PCAPNG_MAGIC = bytes.fromhex("0a0d0d0a")
PCAPNG_BYTE_ORDER = (bytes.fromhex("1a2b3c4d"), bytes.fromhex("4d3c2b1a"))

#: tshark's words for a capture it could read only in part.
_CUT = re.compile(r"cut short|damaged or corrupt|truncated|corrupted|short read", re.IGNORECASE)


def _first(col: str) -> str:
    return f"nullif(split_part({col}, chr(31), 1), '')"


def _user(name: str) -> str:
    """The user part of a SIP URI header (tshark's), or the number of a tel: URI; %-escapes
    decoded, user parameters (``;npdi``, ``;isub=``) dropped."""
    user = f"coalesce({_first(name + '_user')}, " \
        f"nullif(regexp_extract({_first(name + '_addr')}, '^tel:([^;>]+)', 1), ''))"  # fmt: skip
    return f"nullif(split_part(url_decode({user}), ';', 1), '')"


#: One row per SIP message: typed, the innermost source address, the first occurrence of
#: each SIP field (a message has one of each that matters).
_MESSAGES_SQL = f"""
SELECT
    TRY_CAST(frame AS BIGINT) + {{offset}} AS frame,
    coalesce(
        CAST(round(TRY_CAST(epoch AS DECIMAL(38, 9)) * 1000000) AS BIGINT),
        epoch_us(TRY_CAST(epoch AS TIMESTAMPTZ))) AS us,
    CASE WHEN regexp_extract(':' || protocols || ':', '.*:(ipv6|ip):', 1) = 'ipv6'
         THEN nullif(string_split(ip6, chr(31))[-1], '')
         ELSE nullif(string_split(ip4, chr(31))[-1], '') END AS src,
    {_first("call_id")} AS call_id,
    upper({_first("method")}) AS method,
    TRY_CAST({_first("status")} AS INTEGER) AS status,
    TRY_CAST({_first("cseq")} AS BIGINT) AS cseq,
    upper({_first("cseq_method")}) AS cseq_method,
    {_first("to_tag")} AS to_tag,
    {_user("from")} AS from_user,
    {_user("to")} AS to_user,
    nullif(split_part(url_decode({_first("ruri_user")}), ';', 1), '') AS ruri_user,
    {_user("pai")} AS pai_user,
    {_user("ppi")} AS ppi_user,
    {_first("user_agent")} AS user_agent,
    nullif(trim({_first("auth_user")}, '"'), '') AS auth_user
FROM chunk
WHERE len(string_split(call_id, chr(31))) = 1 AND call_id <> ''
"""

#: Frames carrying several SIP messages: set aside.
_PACKED_SQL = """
SELECT TRY_CAST(frame AS BIGINT) + {offset}, replace(call_id, chr(31), ';'),
       len(string_split(call_id, chr(31)))
FROM chunk WHERE len(string_split(call_id, chr(31))) > 1
"""

_CALLS_SQL = """
CREATE TEMP TABLE calls AS
WITH initial AS (          -- the call attempt(s): INVITEs outside a dialog (no To tag)
    SELECT * FROM msgs WHERE method = 'INVITE' AND to_tag IS NULL
),
attempt AS (
    SELECT call_id,
           arg_min(frame, (us, frame)) AS frame,
           min(us) AS start_us,
           arg_min(src, (us, frame)) AS src,
           arg_min(from_user, (us, frame)) AS from_user,
           arg_min(coalesce(to_user, ruri_user), (us, frame)) AS to_user,
           arg_min(user_agent, (us, frame)) FILTER (WHERE user_agent IS NOT NULL) AS user_agent,
           arg_min(pai_user, (us, frame)) FILTER (WHERE pai_user IS NOT NULL) AS pai_user,
           arg_min(ppi_user, (us, frame)) FILTER (WHERE ppi_user IS NOT NULL) AS ppi_user,
           arg_min(auth_user, (us, frame)) FILTER (WHERE auth_user IS NOT NULL) AS auth_user,
           max(cseq) AS cseq
    FROM initial GROUP BY call_id
),
final AS (                 -- final responses to the attempt that counts
    SELECT m.call_id,
           min(m.us) FILTER (WHERE m.status BETWEEN 200 AND 299) AS answer_us,
           coalesce(arg_min(m.status, (m.us, m.frame)) FILTER (WHERE m.status BETWEEN 200 AND 299),
                    arg_min(m.status, (m.us, m.frame))) AS status
    FROM msgs m JOIN attempt a ON m.call_id = a.call_id AND m.cseq = a.cseq
    WHERE m.method IS NULL AND m.cseq_method = 'INVITE' AND m.status >= 200
    GROUP BY m.call_id
),
ending AS (
    SELECT m.call_id,
           min(m.us) FILTER (WHERE m.method = 'BYE' AND m.us >= f.answer_us) AS bye_us,
           max(m.us) AS last_us,
           arg_min(auth_user, (m.us, m.frame)) FILTER (WHERE auth_user IS NOT NULL) AS auth_user
    FROM msgs m JOIN final f USING (call_id)
    GROUP BY m.call_id
)
SELECT a.*, f.status, f.answer_us, e.bye_us, e.last_us,
       coalesce(a.auth_user, e.auth_user) AS account
FROM attempt a LEFT JOIN final f USING (call_id) LEFT JOIN ending e USING (call_id)
"""

_ROWS_SQL = """
SELECT call_id,
       strftime(make_timestamp(start_us), '%Y-%m-%dT%H:%M:%S.%fZ') AS start_time,
       coalesce(account, from_user, '') AS sip_account,
       coalesce(src, '') AS source_ip,
       coalesce(user_agent, '') AS user_agent,
       coalesce(pai_user, ppi_user, from_user, '') AS from_number,
       coalesce(to_user, '') AS to_number,
       CAST(CASE WHEN answer_us IS NULL THEN 0
                 ELSE round((coalesce(bye_us, last_us) - answer_us) / 1e6) END
            AS BIGINT)::VARCHAR AS duration_s,
       status::VARCHAR AS sip_status,
       frame AS _line
FROM calls WHERE status IS NOT NULL ORDER BY frame
"""

_UNANSWERED_SQL = """
SELECT frame, call_id FROM calls WHERE status IS NULL ORDER BY frame
"""

#: Dialogs seen (a response to an INVITE, a BYE, an in-dialog INVITE) without their start.
_HEADLESS_SQL = """
SELECT min(frame), call_id FROM msgs
WHERE (cseq_method IN ('INVITE', 'BYE') OR method IN ('INVITE', 'BYE'))
  AND call_id NOT IN (SELECT call_id FROM calls)
GROUP BY call_id ORDER BY 1
"""


@dataclass
class _Run:
    """One tshark process over the capture or one piece of it."""

    path: Path
    offset: int  # frames of the capture before this piece
    stderr: Path
    last_frame: int = 0  # in the whole capture
    code: int = 0
    message: str = ""
    broken: str = ""
    misshapen: list[str] = field(default_factory=list)
    error: BaseException | None = None
    proc: subprocess.Popen[bytes] | None = None


class PcapReader:
    """SIP calls in a packet capture, dissected by ``tshark``, one ``voip_cdr`` row per call.

    A capture bigger than ``split_bytes`` is cut by ``editcap`` into pieces of
    ``chunk_packets`` packets, read by up to ``workers`` tshark processes at once: tshark's
    memory grows with every packet it reads and its time per packet grows with the capture, so
    pieces keep both bounded and use every core. Frame numbers stay those of the whole
    capture; calls spanning pieces are put together as any other (the messages of all pieces
    meet in one table). Only a SIP message split across two TCP segments at a cut is lost.
    """

    name = "pcap"
    description = "SIP calls in packet captures (pcap, pcapng; tshark dissects them)"

    def __init__(self, tshark: str = "tshark", *, split_bytes: int = 32 << 20,
                 chunk_packets: int = 50_000, workers: int | None = None) -> None:  # fmt: skip
        self.tshark = tshark
        self.split_bytes = split_bytes
        self.chunk_packets = chunk_packets
        self.workers = workers or max(1, min(os.cpu_count() or 1, 8))

    def sniff(self, path: Path, head: bytes) -> bool:
        if head[:4] in PCAP_MAGICS:
            return True
        return head[:4] == PCAPNG_MAGIC and head[8:12] in PCAPNG_BYTE_ORDER

    def command(self, path: Path) -> list[str]:
        """The tshark command that reads ``path`` (the whole file: what the benchmark times)."""
        binary = shutil.which(self.tshark)
        if binary is None:
            raise IngestError(f"{path}: reading packet captures needs tshark, which is not "
                              f"installed ({self.tshark!r} not found); {INSTALL_HINT}")  # fmt: skip
        fields = [arg for name, _ in FIELDS for arg in ("-e", name)]
        return [binary, "-r", str(path), "-n", "-Y", DISPLAY_FILTER,
                # SDP bodies, and the RTP they would announce, are of no use here and slow
                # tshark down more and more as calls accumulate.
                "--disable-protocol", "sdp",
                "-T", "fields", "-E", "separator=/t", "-E", "quote=n",
                "-E", "occurrence=a", "-E", f"aggregator={AGGREGATOR}", *fields]  # fmt: skip

    def read(self, path: Path, ctx: ReadContext) -> Iterator[Batch]:
        self.command(path)  # tshark is there, or say how to install it
        with tempfile.TemporaryDirectory(prefix="scamtrace-pcap-") as tmp_name:
            tmp = Path(tmp_name)
            pieces, cut = self._pieces(path, tmp)
            db = duckdb.connect(str(tmp / "sip.duckdb"))
            try:
                db.execute("SET TimeZone = 'UTC'").fetchall()
                db.execute(f"SET temp_directory = '{tmp / 'spill'}'").fetchall()
                self._load(path, pieces, tmp, db, ctx, cut)
                yield from self._dialogs(db, ctx)
            finally:
                db.close()

    def _pieces(self, path: Path, tmp: Path) -> tuple[list[tuple[Path, int]], str]:
        """The capture as pieces (path, frames before it), and editcap's word if it found the
        capture cut short."""
        editcap = shutil.which("editcap")
        if editcap is None or self.chunk_packets <= 0 or path.stat().st_size <= self.split_bytes:
            return [(path, 0)], ""
        folder = tmp / "pieces"
        folder.mkdir()
        done = subprocess.run([editcap, "-c", str(self.chunk_packets), str(path),
                               str(folder / "piece.pcapng")], stdin=subprocess.DEVNULL,
                              capture_output=True, check=False)  # fmt: skip
        message = _clean(done.stderr.decode(errors="replace"))
        found = {int(m.group(1)): p for p in folder.iterdir()
                 if (m := re.match(r"piece_(\d+)", p.name))}  # fmt: skip
        pieces = [found[n] for n in sorted(found)]
        # editcap may exit 0 on a cut: its message tells
        cut = message if _CUT.search(message) else ""
        if not pieces or (done.returncode != 0 and not cut):
            # Nothing editcap could read: tshark, reading the file whole, says why.
            shutil.rmtree(folder, ignore_errors=True)
            return [(path, 0)], ""
        return [(p, n * self.chunk_packets) for n, p in enumerate(pieces)], cut

    def _load(self, path: Path, pieces: list[tuple[Path, int]], tmp: Path,
              db: duckdb.DuckDBPyConnection, ctx: ReadContext,
              cut: str) -> None:  # fmt: skip
        """Run tshark over every piece, streaming its fields into table ``msgs``, and what
        is set aside into ``set_aside`` (:func:`_set_aside`): held there, not in lists."""
        db.execute("CREATE TABLE set_aside (frame BIGINT, kind INTEGER, seq BIGINT, "
                   "field VARCHAR, value VARCHAR, reason VARCHAR)").fetchall()
        db.execute("CREATE TABLE msgs (frame BIGINT, us BIGINT, src VARCHAR, call_id VARCHAR, "
                   "method VARCHAR, status INTEGER, cseq BIGINT, cseq_method VARCHAR, "
                   "to_tag VARCHAR, from_user VARCHAR, to_user VARCHAR, ruri_user VARCHAR, "
                   "pai_user VARCHAR, ppi_user VARCHAR, user_agent VARCHAR, "
                   "auth_user VARCHAR)").fetchall()  # fmt: skip
        runs = [_Run(p, offset, tmp / f"tshark-{n}.stderr")
                for n, (p, offset) in enumerate(pieces)]  # fmt: skip
        out: queue.Queue[tuple[_Run, pa.Table | None]] = queue.Queue(maxsize=4 * self.workers)
        stop = threading.Event()
        rejected: list[Rejected] = []
        pending = len(runs)
        with ThreadPoolExecutor(max_workers=min(self.workers, len(runs))) as pool:
            for run in runs:
                pool.submit(self._run, run, out, stop)
            try:
                while pending:
                    run, chunk = out.get()
                    if chunk is None:
                        pending -= 1
                        continue
                    _set_aside(db, self._insert(db, run, chunk, ctx))
            finally:
                if pending:  # failed here: stop the others, let them finish
                    stop.set()
                    for run in runs:
                        if run.proc is not None and run.proc.poll() is None:
                            run.proc.kill()
                    while pending:
                        if out.get()[1] is None:
                            pending -= 1
        last_frame = max(run.last_frame for run in runs)
        for run in runs:
            if run.error is not None:
                raise run.error
            for text in run.misshapen:
                frame = text.split("\t", 1)[0]
                rejected.append(Rejected(
                    ctx.source, run.offset + int(frame) if frame.isdigit() else run.last_frame,
                    TABLE, "", text[:80],
                    "tshark line with a field count other than the fields asked for"))  # fmt: skip
            if run.broken:
                rejected.append(Rejected(ctx.source, run.last_frame, TABLE, "", "",
                                         f"tshark's output unreadable after frame "
                                         f"{run.last_frame}: {run.broken}",
                                         stops=True))  # fmt: skip
            elif _CUT.search(run.message):
                cut = run.message
            elif run.code != 0:
                raise IngestError(f"{path}: tshark could not read it (exit {run.code}): "
                                  f"{run.message or 'no message'}")  # fmt: skip
        if cut:
            where = f"after frame {last_frame}" if last_frame else "before its first SIP frame"
            rejected.append(Rejected(
                ctx.source, last_frame, TABLE, "", "",
                f"capture cut short {where}; the calls before the cut are kept: {cut}",
                stops=True))  # fmt: skip
        _set_aside(db, rejected)

    def _run(self, run: _Run, out: queue.Queue[tuple[_Run, pa.Table | None]],
             stop: threading.Event) -> None:  # fmt: skip
        """One tshark process (in a worker thread): its output in blocks onto ``out``, then
        ``(run, None)``."""
        try:
            if stop.is_set():
                return
            with run.stderr.open("wb") as stderr:
                run.proc = subprocess.Popen(self.command(run.path), stdin=subprocess.DEVNULL,
                                            stdout=subprocess.PIPE, stderr=stderr)  # fmt: skip
            assert run.proc.stdout is not None
            try:
                for chunk in _stream(run.proc.stdout, run.misshapen):
                    if stop.is_set():
                        break
                    out.put((run, chunk))
            except pa.ArrowInvalid as exc:
                run.broken = str(exc)
                run.proc.kill()
            finally:
                run.proc.stdout.close()
                run.code = run.proc.wait()
            run.message = _clean(run.stderr.read_text(errors="replace"))
        except BaseException as exc:  # handed to the reading thread
            run.error = exc
        finally:
            out.put((run, None))

    def _insert(self, db: duckdb.DuckDBPyConnection, run: _Run, chunk: pa.Table,
                ctx: ReadContext) -> list[Rejected]:  # fmt: skip
        """One block of tshark's output into ``msgs``; frames packing several messages."""
        db.register("chunk", chunk)
        try:
            db.execute(f"INSERT INTO msgs {_MESSAGES_SQL.format(offset=run.offset)}").fetchall()
            packed = db.execute(_PACKED_SQL.format(offset=run.offset)).fetchall()
        finally:
            db.unregister("chunk")
        tail = chunk.column("frame")[-1].as_py() if chunk.num_rows else ""
        if tail and tail.isdigit():
            run.last_frame = run.offset + int(tail)
        return [Rejected(ctx.source, int(frame or 0), TABLE, "call_id", str(call_ids)[:80],
                         f"frame carries {n} SIP messages (packed in one TCP segment); "
                         "they cannot be told apart in tshark's fields")
                for frame, call_ids, n in packed]  # fmt: skip

    def _dialogs(self, db: duckdb.DuckDBPyConnection, ctx: ReadContext) -> Iterator[Batch]:
        db.execute(_CALLS_SQL).fetchall()
        # Calls without an answer or a start, set aside where they lie (after what the load
        # set aside on the same frame), and all of it handed out a part at a time.
        for kind, sql, name, reason in (
                (1, _UNANSWERED_SQL, "sip_status", "no final response in capture"),
                (2, _HEADLESS_SQL, "start_time",
                 "initial INVITE not in capture (started mid-call)")):  # fmt: skip
            db.execute(f"INSERT INTO set_aside SELECT f, {kind}, row_number() OVER (), "
                       f"'{name}', coalesce(left(CAST(c AS VARCHAR), 80), 'None'), "
                       f"'{reason}' FROM ({sql.strip()}) AS t(f, c)").fetchall()
        reader = db.sql(_ROWS_SQL).to_arrow_reader(max(1, ctx.batch_rows))
        for batch in reader:
            if batch.num_rows:
                yield coerce(TABLE, pa.Table.from_batches([batch]), ctx.source,
                             ctx.holder_country)  # fmt: skip
        empty = pa.Table.from_pylist([], contract.INPUT_TABLES[TABLE].schema)
        parts = db.sql("SELECT frame, field, value, reason FROM set_aside "
                       "ORDER BY frame, kind, seq").to_arrow_reader(TYPING_ROWS)
        for part in parts:
            yield Batch(TABLE, empty, [Rejected(ctx.source, int(r["frame"]), TABLE, r["field"],
                                                r["value"], r["reason"])
                                       for r in part.to_pylist()])  # fmt: skip


def _set_aside(db: duckdb.DuckDBPyConnection, rejected: list[Rejected]) -> None:
    """``rejected`` (frames of the capture) into table ``set_aside``, in order after what
    is there."""
    if not rejected:
        return
    seq = db.execute("SELECT count(*) FROM set_aside").fetchall()[0][0]
    db.register("set_aside_in", pa.table({
        "frame": pa.array([r.line for r in rejected], pa.int64()),
        "seq": pa.array(range(seq, seq + len(rejected)), pa.int64()),
        "field": [r.field for r in rejected], "value": [r.value for r in rejected],
        "reason": [r.reason for r in rejected]}))  # fmt: skip
    try:
        db.execute("INSERT INTO set_aside SELECT frame, 0, seq, field, value, reason "
                   "FROM set_aside_in").fetchall()
    finally:
        db.unregister("set_aside_in")


def _clean(stderr: str) -> str:
    """tshark's or editcap's complaint on one line, without the warning about running as root."""
    return " ".join(line.strip() for line in stderr.splitlines()
                    if line.strip() and "Running as user" not in line)  # fmt: skip


def _stream(stdout: IO[bytes], misshapen: list[str]) -> Iterator[pa.Table]:
    """tshark's tab-separated lines, in blocks of text columns; a line with the wrong number
    of fields (which tshark's escaping should prevent) goes to ``misshapen``."""
    if not stdout.peek(1):  # type: ignore[attr-defined]
        return
    names = [column for _, column in FIELDS]

    def set_aside(row: pacsv.InvalidRow) -> str:
        misshapen.append(row.text or "")
        return "skip"

    reader = pacsv.open_csv(
        stdout,
        read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 22),
        parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False, double_quote=False,
                                         escape_char=False, invalid_row_handler=set_aside),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names}, strings_can_be_null=False,
            quoted_strings_can_be_null=False),
    )  # fmt: skip
    for batch in reader:
        yield pa.Table.from_batches([batch])


READER = PcapReader()
