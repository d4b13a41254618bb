"""Settings of c360's long-running processes (``c360 serve``, ``c360 worker``)."""

import gc


def tune_gc() -> None:
    """Freeze the objects made at start-up out of cyclic garbage collection and collect the
    young generation less often.

    Requests and batches allocate many short-lived, acyclic objects (decoded JSON, rows,
    messages); with the default thresholds collection was a tenth of ingest time and an eighth
    of the journey engine's and dispatcher's, most of it full collections walking every
    module, function and table definition loaded at start-up. Call it once start-up is done.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


__all__ = ["tune_gc"]
