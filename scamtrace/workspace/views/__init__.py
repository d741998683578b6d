"""The workspace's routes, one module per concept: the session (login, logout), cases and
networks (with the graph, map and timeline pages), the entity page, search, triage and
verdicts, hand-over, the audit log."""

from __future__ import annotations

from starlette.routing import BaseRoute


def routes() -> list[BaseRoute]:
    from scamtrace.workspace.views import audit, cases, entity, handover, search, session, triage

    return [*session.routes, *cases.routes, *entity.routes, *search.routes, *triage.routes,
            *handover.routes, *audit.routes]  # fmt: skip
