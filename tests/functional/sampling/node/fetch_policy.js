// OpenTelemetry JS's Jaeger remote sampler polling argv[2] (base URL; it appends
// /sampling?service=) for service argv[3]. Once its own poll has replaced the initial
// AlwaysOff sampler, prints {description, decisions} where decisions counts sampled spans
// out of 1000 random trace ids for each operation in argv[4..]. Exit 1 on a 15 s deadline.
'use strict';
const crypto = require('crypto');
const api = require('@opentelemetry/api');
const { AlwaysOffSampler } = require('@opentelemetry/sdk-trace');
const { JaegerRemoteSampler } = require('@opentelemetry/sampler-jaeger-remote');

const [endpoint, serviceName, ...operations] = process.argv.slice(2);
const initial = new AlwaysOffSampler();
const sampler = new JaegerRemoteSampler({
  endpoint, serviceName, poolingInterval: 50, initialSampler: initial,
});
const deadline = Date.now() + 15000;

function report() {
  const decisions = {};
  for (const op of operations) {
    let kept = 0;
    for (let i = 0; i < 1000; i++) {
      const traceId = crypto.randomBytes(16).toString('hex');
      const r = sampler.shouldSample(api.ROOT_CONTEXT, traceId, op, api.SpanKind.SERVER, {}, []);
      if (r.decision === 2) kept++; // SamplingDecision.RECORD_AND_SAMPLED
    }
    decisions[op] = kept;
  }
  process.stdout.write(JSON.stringify({ description: sampler.toString(), decisions }) + '\n');
  process.exit(0);
}

// A readiness poll with a deadline: the sampler's own interval does the fetching.
(function wait() {
  if (sampler._sampler !== initial) return report();
  if (Date.now() > deadline) {
    process.stderr.write('no answer applied before the deadline: ' + sampler.toString() + '\n');
    process.exit(1);
  }
  setTimeout(wait, 20);
})();
