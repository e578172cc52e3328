// Downstream server: continues the caller's trace with a SERVER span per request; prints
// its port first, then one JSON line per request with the spans it recorded.
'use strict';
const http = require('http');
const { api, tracer, propagator, getter, describe } = require('./tracer');

const server = http.createServer((req, res) => {
  const parent = propagator.extract(api.context.active(), req.headers, getter);
  const span = tracer.startSpan('node server ' + req.url, { kind: api.SpanKind.SERVER }, parent);
  res.end('from node');
  span.end();
  process.stdout.write(JSON.stringify({ headers: req.headers, spans: describe() }) + '\n');
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(String(server.address().port) + '\n');
});
process.stdin.on('end', () => server.close());
process.stdin.resume();
