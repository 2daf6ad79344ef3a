"""What one load-generator process counts, and how the counts of several merge.

Pure values: no I/O, no clock. A latency histogram keeps every value within
1% (HdrHistogram's idea: a fixed number of sub-buckets per power of two), so
a process sends a few hundred numbers instead of every sample, and merging is
adding counts: the percentiles of merged histograms are those of all samples.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

# 2**SUB_BITS sub-buckets per power of two: a bucket is at most 1/128 (0.8%)
# of its values wide, and values below 256 are kept exactly.
SUB_BITS = 7


def bucket_of(value: int) -> int:
    """The lowest value of the bucket holding `value` (a non-negative int)."""
    shift = max(0, value.bit_length() - (SUB_BITS + 1))
    return (value >> shift) << shift


def bucket_top(bucket: int) -> int:
    """The highest value of the bucket whose lowest value is `bucket`."""
    shift = max(0, bucket.bit_length() - (SUB_BITS + 1))
    return bucket + (1 << shift) - 1


@dataclass
class Histogram:
    """Counts of non-negative integer samples (microseconds here), by bucket."""

    counts: dict[int, int] = field(default_factory=dict)
    total: int = 0
    max: int = 0

    def record(self, value: int) -> None:
        value = max(0, value)
        key = bucket_of(value)
        self.counts[key] = self.counts.get(key, 0) + 1
        self.total += 1
        self.max = max(self.max, value)

    def record_many(self, values: Iterable[int]) -> None:
        for value in values:
            self.record(value)

    def merge(self, other: Histogram) -> None:
        for key, n in other.counts.items():
            self.counts[key] = self.counts.get(key, 0) + n
        self.total += other.total
        self.max = max(self.max, other.max)

    def percentile(self, p: float) -> int:
        """The value at or below which a fraction `p` (0..1) of the samples lie,
        by nearest rank; rounded up to its bucket's top, never above the max.

        Raises:
            ValueError: `p` is outside 0..1.
        """
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"percentile {p} is outside 0..1")
        if self.total == 0:
            return 0
        rank = max(1, math.ceil(p * self.total))
        seen = 0
        for key in sorted(self.counts):
            seen += self.counts[key]
            if seen >= rank:
                return min(bucket_top(key), self.max)
        return self.max


@dataclass
class Tally:
    """Counts of one process, or of several merged.

    Attributes:
        sent: DIALOGUEs sent in the measured window.
        acked: DIALOGUE responses with code 0 received in the window.
        delivered: PUSH_DIALOGUEs received in the window.
        latency_us: send-to-push latency of the delivered messages.
        errors: failures by kind over the whole run ("DIALOGUE 8", "disconnected").
    """

    sent: int = 0
    acked: int = 0
    delivered: int = 0
    latency_us: Histogram = field(default_factory=Histogram)
    errors: Counter[str] = field(default_factory=Counter)

    def merge(self, other: Tally) -> None:
        self.sent += other.sent
        self.acked += other.acked
        self.delivered += other.delivered
        self.latency_us.merge(other.latency_us)
        self.errors.update(other.errors)


def merge_tallies(tallies: Iterable[Tally]) -> Tally:
    merged = Tally()
    for tally in tallies:
        merged.merge(tally)
    return merged


@dataclass(frozen=True)
class LatencySummary:
    """Milliseconds."""

    p50: float
    p90: float
    p99: float
    max: float

    @classmethod
    def of(cls, hist: Histogram) -> LatencySummary:
        def ms(us: int) -> float:
            return round(us / 1000, 3)

        return cls(
            ms(hist.percentile(0.5)),
            ms(hist.percentile(0.9)),
            ms(hist.percentile(0.99)),
            ms(hist.max),
        )
