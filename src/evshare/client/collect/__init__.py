"""`evshare collect`: many EnergSync providers into the local store, incrementally."""

from __future__ import annotations

from evshare.client.collect.engine import CollectOptions, Collector, SourceSummary
from evshare.client.collect.sources import Source, load_sources

__all__ = ["CollectOptions", "Collector", "Source", "SourceSummary", "load_sources"]
