"""Testing helpers shipped with okrsync, for built-in and third-party connectors alike.

emulator        Emulator base: an HTTP server on 127.0.0.1 with routes, a request log and faults
contract        source_contract(): the test class every source runs against its emulator (needs pytest)
sink_contract   sink_contract(): the same for every output with a remote target
"""

from okrsync.testing.emulator import Emulator, Fault, Request, Response, route

__all__ = ["Emulator", "Fault", "Request", "Response", "route"]
