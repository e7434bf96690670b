"""A local stand-in for Thulium's REST API, for development and tests (stdlib only)."""

from .server import SandboxServer, start_sandbox

__all__ = ["SandboxServer", "start_sandbox"]
