// OpenTelemetry JS's Jaeger remote sampler fetching from argv[2] for service argv[3];
// prints its description and decisions for argv[4..] operations once it has an answer.
'use strict';
const api = require('@opentelemetry/api');
const { AlwaysOffSampler } = require('@opentelemetry/sdk-trace');
const { JaegerRemoteSampler } = require('@opentelemetry/sampler-jaeger-remote');

const [endpoint, serviceName, ...operations] = process.argv.slice(2);
const sampler = new JaegerRemoteSampler({
  endpoint, serviceName, poolingInterval: 100, initialSampler: new AlwaysOffSampler(),
});
const deadline = Date.now() + 15000;
(function wait() {
  const description = sampler.toString();
  if (description.includes('ParentBased') || Date.now() > deadline) {
    const decisions = {};
    for (const op of operations) {
      let kept = 0;
      for (let i = 0; i < 200; i++) {
        const traceId = (i.toString(16).padStart(8, '0') + 'a'.repeat(24));
        const r = sampler.shouldSample(api.context.active(), traceId, op, api.SpanKind.SERVER, {}, []);
        if (r.decision === 2) kept++;
      }
      decisions[op] = kept;
    }
    process.stdout.write(JSON.stringify({ description, decisions }) + '\n');
    process.exit(0);
  }
  setTimeout(wait, 50);
})();
