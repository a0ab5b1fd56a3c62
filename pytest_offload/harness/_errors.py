"""Errors of the harness that both target loading and the transports raise."""

from __future__ import annotations

__all__ = ["TargetLoadError"]


class TargetLoadError(Exception):
    """The ``--offload-target`` value could not be turned into a target factory (a module
    that does not import, a program that does not start or fails the handshake)."""
