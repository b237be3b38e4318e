"""Which adapter serves which portal, through entry points.

A new portal is one new module and one line in pyproject.toml under
``[project.entry-points."deductions_fleet.portals"]`` (docs/writing-an-adapter.md);
nothing else in the fleet changes. Adapters from other installed packages
register the same way.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points

from portal_adapters.base import CarrierAdapter, PortalAdapter, RetailerAdapter

GROUP = "deductions_fleet.portals"


class UnknownPortal(LookupError):
    """No adapter is registered under that name."""


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def available_portals() -> list[str]:
    return sorted(_entry_points())


@cache
def adapter_class(portal: str) -> type[PortalAdapter]:
    ep = _entry_points().get(portal)
    if ep is None:
        known = ", ".join(available_portals()) or "none (is the package installed?)"
        raise UnknownPortal(f"no adapter registered for portal {portal!r}; known: {known}")
    cls = ep.load()
    if not (isinstance(cls, type) and issubclass(cls, PortalAdapter)):
        raise TypeError(f"entry point {portal!r} ({ep.value}) is not a PortalAdapter subclass")
    if getattr(cls, "portal", None) != portal:
        raise TypeError(f"entry point {portal!r} loads an adapter for {cls.portal!r}")
    return cls


def get_adapter(portal: str) -> PortalAdapter:
    return adapter_class(portal)()


def retailer_adapter(portal: str) -> RetailerAdapter:
    adapter = get_adapter(portal)
    if not isinstance(adapter, RetailerAdapter):
        raise UnknownPortal(f"{portal!r} is not a retailer portal")
    return adapter


def carrier_adapter(portal: str) -> CarrierAdapter:
    adapter = get_adapter(portal)
    if not isinstance(adapter, CarrierAdapter):
        raise UnknownPortal(f"{portal!r} is not a carrier portal")
    return adapter
