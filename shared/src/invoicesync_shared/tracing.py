"""OpenTelemetry set-up and the W3C trace context carried in events.

A trace starts at the API request (FastAPI instrumentation), travels in each event's
CloudEvents ``traceparent`` extension (set by ``Envelope.wrap`` from the current span),
is continued by the consumer (``continue_trace``) and reaches the accounting system's
HTTP call (httpx instrumentation).

Off by default (``otel_exporter="none"``): no provider is installed, so every span is the
API's no-op span and nothing is recorded or exported; an incoming ``traceparent`` is still
passed on unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

    from invoicesync_shared.settings import ServiceSettings

_TRACEPARENT = "traceparent"
_propagator = TraceContextTextMapPropagator()
_tracer = trace.get_tracer("invoicesync")


def configure_tracing(
    service: str, settings: ServiceSettings, *, exporter: SpanExporter | None = None
) -> TracerProvider | None:
    """Install the process's tracer provider and instrument httpx, once per process.

    ``exporter`` overrides the one the settings choose (tests pass an in-memory one).
    Returns the provider, or None when tracing is off.
    """
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    chosen = exporter or _exporter(settings)
    if chosen is None:
        return None
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
    # Batching for a collector; an in-memory or console exporter sees spans at once.
    batched = exporter is None and settings.otel_exporter == "otlp"
    provider.add_span_processor(
        BatchSpanProcessor(chosen) if batched else SimpleSpanProcessor(chosen)
    )
    trace.set_tracer_provider(provider)
    instrumentor = HTTPXClientInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()
    return provider


def _exporter(settings: ServiceSettings) -> SpanExporter | None:
    if settings.otel_exporter == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if settings.otel_exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        # Empty: the exporter's own default (OTEL_EXPORTER_OTLP_* or localhost:4318).
        return OTLPSpanExporter(endpoint=settings.otel_endpoint or None)
    return None


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span, or None outside any trace."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get(_TRACEPARENT)


def current_trace_id() -> str | None:
    """The current trace id as 32 hex digits, or None outside any trace."""
    span_context = trace.get_current_span().get_span_context()
    return trace.format_trace_id(span_context.trace_id) if span_context.is_valid else None


@contextmanager
def continue_trace(
    traceparent: str | None, name: str, attributes: Mapping[str, AttributeValue] | None = None
) -> Iterator[trace.Span]:
    """A consumer span, child of the context an event carried (a new trace without one)."""
    # Always an explicit parent: whatever the consumer loop's context holds must not
    # become the parent of an event that carried no trace.
    parent = _propagator.extract({_TRACEPARENT: traceparent}) if traceparent else Context()
    with _tracer.start_as_current_span(
        name, context=parent, kind=trace.SpanKind.CONSUMER, attributes=attributes
    ) as span:
        yield span


def is_enabled() -> bool:
    """Whether a real tracer provider is installed (``configure_tracing`` with an exporter)."""
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider

    return isinstance(trace.get_tracer_provider(), SdkTracerProvider)
