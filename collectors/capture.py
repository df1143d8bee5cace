"""Write raw frames to a capture file and replay a capture through the real parsers.

A capture is JSON lines `{"recv_ms": int, "source": str, "frame": str}`. `source` is a feed id
with `frame` the raw text frame, or a metadata source (`okx-instruments`,
`binance-coinm-exchangeinfo`, `bybit-instruments`) with `frame` the REST response body that the
parser used (for a paginated document, the JSON array of its page bodies).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import msgspec

from collectors.feed import Feed
from collectors.parsing import FrameError, truncate
from collectors.processor import FrameProcessor, Sink
from collectors.stats import FeedStats

log = logging.getLogger(__name__)


class CaptureLine(msgspec.Struct, frozen=True):
    """One captured frame or metadata body."""

    recv_ms: int
    source: str
    frame: str


@dataclass(frozen=True, slots=True)
class CaptureProblem:
    """A capture line that could not be read."""

    line_no: int
    reason: str
    raw_frame: bool = False  # a JSON object, but no capture line: an exchange's own frame?


_ENCODER = msgspec.json.Encoder()
# Malformed lines said one by one; the rest are counted in one line at the end.
_PROBLEMS_SAID = 5
RAW_FRAMES_HINT = (
    "capture line %d is an exchange frame, not a capture line: replay reads files written by "
    '`liquidation-bot record`, JSON lines {"recv_ms": int, "source": feed id, "frame": the raw '
    "text}; such lines are skipped"
)
_LINE_DECODER = msgspec.json.Decoder(CaptureLine)


class CaptureWriter:
    """Append capture lines to a file; a `FrameRecorder`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.lines = 0
        self._file: IO[bytes] | None = None

    def open(self) -> CaptureWriter:
        """Create (or truncate) the file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("wb")
        return self

    def record(self, source: str, recv_ms: int, frame: str) -> None:
        """Write one line."""
        if self._file is None:
            raise RuntimeError("CaptureWriter is not open")
        self._file.write(_ENCODER.encode(CaptureLine(recv_ms, source, frame)) + b"\n")
        self.lines += 1

    def flush(self) -> None:
        """Push buffered lines to the OS."""
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        """Flush and close."""
        if self._file is not None:
            self._file.close()
            self._file = None


def read_capture(lines: Iterable[bytes]) -> Iterator[CaptureLine | CaptureProblem]:
    """Decode capture lines; a malformed line becomes a CaptureProblem, never an exception."""
    for line_no, raw in enumerate(lines, start=1):
        stripped = raw.strip()
        if not stripped:
            continue
        try:
            yield _LINE_DECODER.decode(stripped)
        except msgspec.DecodeError as exc:
            yield CaptureProblem(line_no, f"{exc} in {truncate(stripped, 120)}", _is_raw(stripped))


def _is_raw(line: bytes) -> bool:
    """Return True for a JSON object without a capture line's fields (a raw exchange frame)."""
    try:
        value = msgspec.json.decode(line)
    except msgspec.DecodeError:
        return False
    return isinstance(value, dict) and not {"recv_ms", "source", "frame"} <= value.keys()


@dataclass(slots=True)
class ReplayReport:
    """What a replay read and produced."""

    lines: int = 0
    problems: int = 0
    unknown_sources: dict[str, int] = field(default_factory=dict)
    metadata_applied: int = 0
    metadata_failed: int = 0
    feeds: dict[str, FeedStats] = field(default_factory=dict)
    first_ms: int | None = None
    last_ms: int | None = None


class Replayer:
    """Run captured frames through the feeds' real parsers into `sink`, one line at a time.

    Metadata lines are installed into the feed that uses them before later frames are parsed.
    A source shared by several feeds (`bybit-instruments`: linear and inverse) goes to each of
    them; each installs the bodies that are its own and rejects the others. Problems are logged
    (not raised) and counted in the report.
    """

    def __init__(self, feeds: list[Feed], sink: Sink) -> None:
        self._processors = {
            feed.feed_id: FrameProcessor(feed, sink, throttle_logs=False) for feed in feeds
        }
        self._appliers: dict[str, list[Callable[[str], str]]] = {}
        for feed in feeds:
            for document in feed.metadata_documents():
                known = self._appliers.setdefault(document.capture_source, [])
                if document.apply not in known:  # OKX: two documents, one apply
                    known.append(document.apply)
        self.report = ReplayReport(feeds={f: p.stats for f, p in self._processors.items()})
        self._unknown: dict[str, Counter[str]] = {}  # feed -> unknown instrument -> events
        self._said_raw = False
        self._unsaid = 0  # malformed lines not logged one by one

    def process(self, item: CaptureLine | CaptureProblem) -> None:
        """Handle one capture line."""
        report = self.report
        if isinstance(item, CaptureProblem):
            report.problems += 1
            if item.raw_frame and not self._said_raw:  # a whole file of them: said once
                self._said_raw = True
                log.warning(RAW_FRAMES_HINT, item.line_no)
            elif not item.raw_frame and report.problems - self._unsaid <= _PROBLEMS_SAID:
                log.warning("capture line %d skipped: %s", item.line_no, item.reason)
            else:
                self._unsaid += 1
            return
        report.lines += 1
        processor = self._processors.get(item.source)
        if processor is not None:
            report.first_ms = item.recv_ms if report.first_ms is None else report.first_ms
            report.last_ms = item.recv_ms
            parsed = processor.process(item.frame, item.recv_ms)
            if parsed is not None and parsed.rejected:
                unknown = [r.instrument for r in parsed.rejected if r.unknown_instrument]
                processor.stats.unknown_instrument_events += len(unknown)
                self._unknown.setdefault(item.source, Counter()).update(unknown)
            return
        applies = self._appliers.get(item.source)
        if applies is None:
            report.unknown_sources[item.source] = report.unknown_sources.get(item.source, 0) + 1
            return
        summaries: list[str] = []
        errors: list[str] = []
        for apply in applies:
            try:
                summaries.append(apply(item.frame))
            except FrameError as exc:
                errors.append(str(exc))
        if not summaries:
            report.metadata_failed += 1
            log.warning("capture: %s body unusable: %s", item.source, "; ".join(errors))
            return
        report.metadata_applied += 1
        log.info("capture: installed %s (%s)", item.source, "; ".join(summaries))

    def finish(self) -> ReplayReport:
        """Summarise what was skipped (once per kind) and return the report."""
        if self._unsaid:
            log.warning("capture: %d more malformed line(s) skipped", self._unsaid)
        duplicates = sum(stats.duplicates for stats in self.report.feeds.values())
        if duplicates:
            log.warning("capture: %d duplicate event(s) skipped", duplicates)
        if self.report.metadata_failed:
            log.warning("capture: %d unusable metadata body(ies)", self.report.metadata_failed)
        for feed_id, counts in self._unknown.items():
            log.warning(
                "capture: %s: skipped %d event(s) of unknown instrument(s) %s: the capture has "
                "no metadata for them",
                feed_id,
                counts.total(),
                truncate(repr(sorted(counts))),
            )
        for source, count in self.report.unknown_sources.items():
            log.warning("capture: %d line(s) from unconfigured source %r skipped", count, source)
        return self.report


def replay(
    lines: Iterable[CaptureLine | CaptureProblem], feeds: list[Feed], sink: Sink
) -> ReplayReport:
    """Replay every line (see Replayer) and return the report."""
    replayer = Replayer(feeds, sink)
    for item in lines:
        replayer.process(item)
    return replayer.finish()
