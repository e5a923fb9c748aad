"""Prometheus metrics (prometheus-client), one registry per app so nothing is global.

Labels only ever take configured names (provider) or fixed words (wires), never raw client
input. The operations work (issue 4) adds the request, latency, token and health series.
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.fallbacks = Counter(
            "proxyd_fallbacks",
            "Providers with wire: auto found to lack /responses, so proxyd now translates for them",
            ["provider"],
            registry=self.registry,
        )
        self.translations = Counter(
            "proxyd_translations",
            "Requests translated between the Responses API and Chat Completions",
            ["from", "to"],
            registry=self.registry,
        )

    def response(self) -> web.Response:
        response = web.Response(body=generate_latest(self.registry))
        response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        return response


METRICS = web.AppKey("metrics", Metrics)
