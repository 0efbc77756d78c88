"""OpenTelemetry traces across Kafka hops (FastStream's KafkaTelemetryMiddleware), off unless configured.

With `CC_OTEL_EXPORTER=otlp` (to `CC_OTEL_ENDPOINT`, OTLP over HTTP) or `console`, every consume and publish
is a span and the trace context travels in the Kafka headers, so one complaint's path through intake,
triage, assignment, follow-up and archive is one trace. Off by default: no exporter, no overhead.
"""

from __future__ import annotations

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

from shared.settings import ServiceSettings


def tracer_provider(settings: ServiceSettings, service: str,
                    exporter: SpanExporter | None = None) -> TracerProvider | None:
    if exporter is None:
        if settings.otel_exporter == "none":
            return None
        if settings.otel_exporter == "console":
            exporter = ConsoleSpanExporter()
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter(endpoint=settings.otel_endpoint)
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider
