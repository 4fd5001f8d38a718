"""A one-line progress display with ETA for long captures and training runs."""

import sys
import time


class Progress:
    """Rewrites one stderr line at most every `interval` seconds: label, i/n, extra text, ETA."""

    def __init__(self, label, total, interval=1.0, stream=sys.stderr):
        self.label = label
        self.total = total
        self.interval = interval
        self.stream = stream
        self.start = time.monotonic()
        self.last = 0.0

    def update(self, done, extra=""):
        now = time.monotonic()
        if done < self.total and now - self.last < self.interval:
            return
        self.last = now
        elapsed = now - self.start
        eta = elapsed / done * (self.total - done) if done > 0 else float("nan")
        self.stream.write(f"\r{self.label}: {done}/{self.total} {extra}  "
                          f"elapsed {elapsed:5.0f} s, ETA {eta:5.0f} s ")
        if done >= self.total:
            self.stream.write("\n")
        self.stream.flush()

    def elapsed(self):
        return time.monotonic() - self.start
