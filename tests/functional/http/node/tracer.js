// An OpenTelemetry JS tracer with an in-memory exporter and the W3C propagator.
'use strict';
const api = require('@opentelemetry/api');
const { W3CTraceContextPropagator } = require('@opentelemetry/core');
const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } =
  require('@opentelemetry/sdk-trace-base');

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer('os-tracing-interop');
const propagator = new W3CTraceContextPropagator();
const getter = { get: (c, k) => c[k], keys: (c) => Object.keys(c) };
const setter = { set: (c, k, v) => { c[k] = v; } };

function describe() {
  return exporter.getFinishedSpans().map((s) => ({
    name: s.name,
    trace_id: s.spanContext().traceId,
    span_id: s.spanContext().spanId,
    parent_span_id: (s.parentSpanContext && s.parentSpanContext.spanId) || s.parentSpanId || null,
  }));
}

module.exports = { api, tracer, propagator, getter, setter, describe };
