"""The budgeted oracle, its run store, executors and the PMO metrics."""

from makeable.oracle.oracle import Oracle, OracleResult
from makeable.oracle.store import RunStore

__all__ = ["Oracle", "OracleResult", "RunStore"]
