"""The sample company: a realistic omnichannel retailer in Thailand and Vietnam, for the demo,
the tests and the benchmarks (``c360 demo generate``)."""

from c360.demo.generate import Manifest, SourceFile, generate_company

__all__ = ["Manifest", "SourceFile", "generate_company"]
