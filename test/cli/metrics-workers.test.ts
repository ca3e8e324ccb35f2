/**
 * `grantry start --workers 2` with metrics_port: the primary's GET /metrics is the sum of both
 * workers' metrics (the workers open no listener of their own).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childrenOf, PinnedConnection, type RunningCluster, servingPid, startCluster } from '../helpers/cluster.js';
import { type DataDir, freePort, freshDataDir } from '../helpers/server.js';
import { cliEnv } from './run.js';

/** The value of the series `name{labels}` exactly as prom-client writes it (0 when absent). */
function valueOf(exposition: string, series: string): number {
  const line = exposition.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe('grantry start --workers 2 with metrics_port (sqlite)', () => {
  let data: DataDir;
  let cluster: RunningCluster | undefined;

  beforeAll(async () => {
    data = await freshDataDir('sqlite', 'grantry-metrics-workers-');
  });
  afterAll(async () => {
    if (cluster) {
      for (const pid of childrenOf(cluster.process.child.pid as number)) process.kill(pid, 'SIGKILL');
      cluster.process.kill();
    }
    await data?.remove();
  });

  it('the primary serves the sum of what both workers counted', async () => {
    const metricsPort = await freePort();
    const env = cliEnv(data.dir, data.databaseUrl, { PORT: '0', GRANTRY_ADMIN_PASSWORD: 'cluster-admin-pass-1', GRANTRY_METRICS_PORT: String(metricsPort), GRANTRY_KEEP_ALIVE_TIMEOUT: '60' });
    cluster = await startCluster(['--workers', '2'], env);
    const { url, port, workers } = cluster;
    expect(workers).toHaveLength(2);

    // A connection pinned to each worker (the primary hands connections out in turn).
    const byPid = new Map<number, PinnedConnection>();
    let jwksRequests = 0;
    for (let attempt = 0; attempt < 16 && byPid.size < 2; attempt += 1) {
      const connection = new PinnedConnection(url);
      expect((await connection.request('GET', '/.well-known/jwks.json')).status).toBe(200);
      jwksRequests += 1;
      const [pid] = servingPid(port, connection.localPort as number, workers);
      if (pid === undefined || byPid.has(pid)) connection.close();
      else byPid.set(pid, connection);
    }
    expect(byPid.size, 'both workers serve connections').toBe(2);

    // On each worker: two more key set requests and one token request from an unknown client.
    for (const connection of byPid.values()) {
      for (let i = 0; i < 2; i += 1) expect((await connection.request('GET', '/.well-known/jwks.json')).status).toBe(200);
      jwksRequests += 2;
      const refused = await connection.request('POST', '/oauth2-token', { 'content-type': 'application/json' }, JSON.stringify({ grant_type: 'client_credentials', client_id: 'nobody', client_secret: 'nothing' }));
      expect(refused.status).toBe(401);
      expect(refused.json.error).toBe('invalid_client');
      connection.close();
    }

    const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await response.text();
    expect(valueOf(text, 'grantry_http_requests_total{method="GET",route="/.well-known/jwks.json",status="200"}')).toBe(jwksRequests);
    expect(valueOf(text, 'grantry_token_errors_total{error="invalid_client"}')).toBe(2);
    expect(valueOf(text, 'grantry_http_requests_total{method="POST",route="/oauth2-token",status="401"}')).toBe(2);
    // Process metrics come from the workers too; the main port serves no metrics.
    expect(text).toMatch(/^process_cpu_seconds_total \d/m);
    expect(text).toMatch(/^grantry_signing_key_age_seconds \d+$/m);
    expect((await fetch(`${url}/metrics`)).status).toBe(404);

    cluster.process.child.kill('SIGTERM');
    expect(await cluster.process.exited).toEqual({ code: 0, signal: null });
    cluster = undefined;
  });
});
