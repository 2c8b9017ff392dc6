import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../logger.js';
import { ClosedHistogram } from './closed-metrics.js';
import { PromMetrics } from './prom-metrics.js';

function metrics(): PromMetrics {
  return new PromMetrics({ version: '0.0.0-test', logger: createLogger('silent'), processMetrics: false });
}

async function lines(m: PromMetrics, prefix: string): Promise<string[]> {
  return (await m.scrape()).split('\n').filter((l) => l.startsWith(prefix));
}

describe('prom metrics', () => {
  it('histogram buckets are cumulative, a value on a bound falls in that bucket, and +Inf is the count', async () => {
    const h = new ClosedHistogram('t_seconds', 'test', [0.001, 0.01, 0.1]);
    for (const v of [0.0005, 0.001, 0.002, 0.01, 5, -1]) h.observe(v);
    const { values } = await h.get();
    assert.deepEqual(
      values.map((s) => [s.metricName, s.labels['le'], s.value]),
      [
        ['t_seconds_bucket', '0.001', 3],
        ['t_seconds_bucket', '0.01', 5],
        ['t_seconds_bucket', '0.1', 5],
        ['t_seconds_bucket', '+Inf', 6],
        ['t_seconds_sum', undefined, 0.0005 + 0.001 + 0.002 + 0.01 + 5],
        ['t_seconds_count', undefined, 6],
      ],
    );
    assert.throws(() => new ClosedHistogram('x', 'x', [1, 1]), /ascend/);
  });

  it('names a rate limit by its key prefix only, and anything unknown as other', async () => {
    const m = metrics();
    m.rateLimited('auth:alice');
    m.rateLimited('bad-token:203.0.113.0/24');
    m.rateLimited('ws:17');
    m.rateLimited('claim-target:AAAAAAAAAAAAAAAAAAAAAA');
    m.rateLimited('something-new:x');
    m.rateLimited('no colon');
    const out = (await lines(m, 'parley_rate_limit_refusals_total')).join('\n');
    assert.match(out, /\{limit="auth_username"\} 1$/m);
    assert.match(out, /\{limit="bad_token_address"\} 1$/m);
    assert.match(out, /\{limit="ws_frames"\} 1$/m);
    assert.match(out, /\{limit="claim_target_device"\} 1$/m);
    assert.match(out, /\{limit="other"\} 2$/m);
    assert.doesNotMatch(out, /alice|203\.0\.113|AAAA|something-new/);
  });

  it('counts only authentication codes, and HTTP by declared templates (anything else is other)', async () => {
    const m = metrics();
    m.authFailed('unauthenticated', 'ws');
    m.authFailed('not_found', 'http');
    m.authFailed('rate_limited', 'http');
    assert.deepEqual(
      (await lines(m, 'parley_auth_failures_total')).filter((l) => !l.endsWith(' 0')),
      ['parley_auth_failures_total{reason="unauthenticated",transport="ws"} 1'],
    );

    m.httpRequest('GET', '/v1/groups', 200); // before the routes are declared: other
    m.declareRoutes(['GET /v1/groups', 'POST /v1/groups']);
    m.httpRequest('GET', '/v1/groups', 204);
    m.httpRequest('GET', '/v1/groups', 503);
    m.httpRequest('POST', '/v1/groups', undefined);
    m.httpRequest('BREW', '/v1/groups', 418);
    m.httpRequest('GET', '/v1/groups/some-real-id', 404);
    m.declareRoutes(['DELETE /v1/groups/:groupId']); // later routes keep the earlier counts
    m.httpRequest('DELETE', '/v1/groups/:groupId', 204);
    assert.deepEqual((await lines(m, 'parley_http_requests_total')).sort(), [
      'parley_http_requests_total{method="DELETE",route="/v1/groups/:groupId",status="2xx"} 1',
      'parley_http_requests_total{method="GET",route="/v1/groups",status="2xx"} 1',
      'parley_http_requests_total{method="GET",route="/v1/groups",status="5xx"} 1',
      'parley_http_requests_total{method="POST",route="/v1/groups",status="aborted"} 1',
      'parley_http_requests_total{method="other",route="other",status="2xx"} 1',
      'parley_http_requests_total{method="other",route="other",status="4xx"} 2',
    ]);
  });

  it('times live deliveries from their store time, and counts those without one', async () => {
    const m = metrics();
    m.delivered('live', performance.now() - 3);
    m.delivered('live', undefined);
    m.delivered('backlog', undefined);
    const out = await lines(m, 'parley_');
    assert.ok(out.includes('parley_messages_delivered_total{path="live"} 2'));
    assert.ok(out.includes('parley_messages_delivered_total{path="backlog"} 1'));
    assert.ok(out.includes('parley_delivery_latency_seconds_count 1'));
    assert.ok(out.includes('parley_delivery_latency_seconds_bucket{le="0.0025"} 0'));
    assert.ok(out.includes('parley_delivery_latency_seconds_bucket{le="+Inf"} 1'));
  });
});
