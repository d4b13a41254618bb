"""Workers: loops that read the log in order and keep the derived views current."""

from c360.workers.processor import PROFILES_CHECKPOINT, Processor, process_available
from c360.workers.rebuild import rebuild

__all__ = ["PROFILES_CHECKPOINT", "Processor", "process_available", "rebuild"]
