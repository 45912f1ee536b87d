"""Watching streams: structured logs (:mod:`.logs`), Prometheus metrics (:mod:`.metrics`), live progress lines
(:mod:`.progress`) and what ``streamrt run`` turns on (:mod:`.session`). Inspect reports live in
:mod:`streamrt.runtime.report`. Submodules are imported on use so that prometheus-client loads only when metrics
are asked for."""

__all__: list[str] = []
