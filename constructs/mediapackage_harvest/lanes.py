"""Lanes: how a set of clips is packed so that at most N of its jobs run at once, with no idle slot between them.

Each lane is a chain of clips, each one's custom resource DependsOn the one before it: CloudFormation starts a
clip when the previous clip of its lane has answered (about a second after its job ends, on the job's MediaPackage
event), so N lanes keep N jobs running back to back. The packing is longest-first onto the least-loaded lane
(LPT: within 4/3 of the best possible makespan, and the best for clips of equal length).

The lanes are computed afresh at every synth, and that is safe for a clip's identity: DependsOn is not a property,
so a clip that changes lane gets no Update; only added, changed and removed clips get requests. Standard library
only.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping


class Lanes:
    """``count`` lanes filled one clip at a time, each onto the least-loaded lane (ties: the lower lane). Given the
    clips longest first, that is LPT; sets declared one after another keep filling the same lanes."""

    def __init__(self, count: int) -> None:
        self.count = max(1, count)
        self._loads = [(0.0, lane) for lane in range(self.count)]

    def place(self, duration: float) -> int:
        """The lane a clip of ``duration`` seconds goes to (it runs after the lane's clips so far)."""
        load, lane = heapq.heappop(self._loads)
        heapq.heappush(self._loads, (load + max(duration, 0.0), lane))
        return lane


def pack(durations: Mapping[str, float], count: int) -> list[list[str]]:
    """``durations`` (seconds, by clip key) into at most ``count`` lanes, longest first (ties: by key), so the
    result depends on the clips alone, never on their order."""
    lanes = Lanes(count)
    packed: list[list[str]] = [[] for _ in range(lanes.count)]
    for key in sorted(durations, key=lambda k: (-durations[k], k)):
        packed[lanes.place(durations[key])].append(key)
    return [lane for lane in packed if lane]


def makespan(durations: Mapping[str, float], packed: list[list[str]]) -> float:
    """How long the lanes take when every clip runs for its duration, back to back."""
    return max((sum(durations[key] for key in lane) for lane in packed), default=0.0)
