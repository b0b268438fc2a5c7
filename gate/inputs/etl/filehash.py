"""The SHA-256 of a trace, taken on a thread from the bytes the reader reads anyway."""

from __future__ import annotations

import hashlib
import queue
import threading

from gate.errors import InputError


class FileHash:
    """SHA-256 of a file, hashed on a thread from the bytes the reader reads anyway.

    `feed(offset, bytes)` hands over what the container read, in file order; uncompressed
    traces are read whole and in order, so the file is not read twice. At the first read that
    does not continue the last one (compressed buffers are read without their headers) the
    thread reads the rest of the file itself, still beside the decoding. `digest` hashes
    whatever follows the last read (the file's tail) and returns the hex digest.
    """

    _DETACH, _END, _CANCEL = object(), object(), object()

    def __init__(self, path: str) -> None:
        self._path = path
        self._hex = ""
        self._error: OSError | None = None
        self._next = 0  # the offset the next fed read must start at
        self._detached = False
        self._queue: queue.Queue[object] = queue.Queue(maxsize=4)
        self._thread = threading.Thread(target=self._run, name="gate-sha256", daemon=True)
        self._thread.start()

    def feed(self, offset: int, data: memoryview) -> None:
        if self._detached:
            return
        if offset != self._next:
            self._detached = True
            self._queue.put(self._DETACH)
            return
        self._queue.put(data)
        self._next += len(data)

    def _run(self) -> None:
        h = hashlib.sha256()
        done = 0  # bytes hashed
        while True:
            item = self._queue.get()
            if item is self._CANCEL:
                return
            if item is self._DETACH or item is self._END:
                try:
                    with open(self._path, "rb") as f:
                        f.seek(done)
                        while chunk := f.read(8 << 20):
                            h.update(chunk)
                except OSError as exc:
                    self._error = exc
                    return
                self._hex = h.hexdigest()
                return
            assert isinstance(item, memoryview)
            h.update(item)
            done += len(item)

    def digest(self) -> str:
        if not self._detached:
            self._detached = True
            self._queue.put(self._END)
        self._thread.join()
        if self._error is not None:
            raise InputError(f"{self._path}: cannot read: {self._error.strerror or self._error}")
        return self._hex

    def cancel(self) -> None:
        """Stop the thread if it still waits for reads (the read failed or was abandoned)."""
        self._detached = True
        while self._thread.is_alive():
            try:
                self._queue.put(self._CANCEL, timeout=0.1)
                return
            except queue.Full:
                continue
