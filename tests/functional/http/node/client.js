// Upstream client: starts a CLIENT span, injects traceparent, calls argv[2], prints its span.
'use strict';
const http = require('http');
const { api, tracer, propagator, setter, describe } = require('./tracer');

const span = tracer.startSpan('node client call', { kind: api.SpanKind.CLIENT });
const ctx = api.trace.setSpan(api.context.active(), span);
const headers = {};
propagator.inject(ctx, headers, setter);
http.get(process.argv[2], { headers }, (res) => {
  res.resume();
  res.on('end', () => {
    span.end();
    process.stdout.write(JSON.stringify({ status: res.statusCode, spans: describe() }) + '\n');
  });
}).on('error', (err) => { console.error(err); process.exit(1); });
