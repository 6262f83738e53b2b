"""What the lifecycle benchmark records per Lambda invocation (kept apart from the handler's modules)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InvocationRecord:
    """One Lambda invocation: which function, when on the virtual clock, and its real (wall) duration."""

    function: str
    start: float
    end: float
    wall_seconds: float

    @property
    def billed_ms(self) -> int:
        """Lambda bills by the millisecond, at least 1 ms (the rehearsal's LambdaFunction counts the same way)."""
        return max(1, int((self.end - self.start) * 1000 + 0.999))
