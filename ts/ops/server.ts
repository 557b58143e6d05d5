/**
 * The ops HTTP servers (Fastify): `/metrics` for Prometheus, and the read-only dashboard with
 * `/api/status`, `/api/events` (Server-Sent Events) and the latest quicklooks. Every value they
 * serve comes from one `queueStatus` call (ts/stream/status.ts), as `contimg status --json`.
 *
 * Files are served only by the opaque id the status lists for them (a hash of the path), looked
 * up in a status computed for the request: a URL can never name a path, so there is nothing to
 * traverse. Nothing here writes to the queue.
 */
import { createReadStream, statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from '../log.js';
import type { Layout } from '../layout/index.js';
import type { StreamQueue } from '../stream/queue.js';
import { queueStatus, type QueueStatus, type QueueStatusOptions } from '../stream/status.js';
import { OpsMetrics, type StatusSource } from './metrics.js';
import { DASHBOARD_HTML } from './page.js';

export interface OpsServerOptions {
  source: StatusSource;
  /** Listen address for both servers (default 127.0.0.1: only this machine). */
  host?: string;
  /** The dashboard (and /metrics too); undefined: off; 0: an ephemeral port. */
  httpPort?: number;
  /** /metrics alone; undefined: off; 0: ephemeral. Equal to httpPort: one server for both. */
  metricsPort?: number;
  log: Logger;
  /** How often /api/events looks for a change (ms). */
  eventIntervalMs?: number;
}

export interface OpsServers {
  /** `http://host:port` of each server that runs. */
  dashboardUrl?: string;
  metricsUrl?: string;
  close(): Promise<void>;
}

/** Pushes the status to every open /api/events stream when its JSON changes. */
class EventHub {
  private readonly clients = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | undefined;
  private last = '';
  private busy = false;

  constructor(
    private readonly source: StatusSource,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  add(res: ServerResponse, first: string): void {
    this.clients.add(res);
    res.write(`data: ${first}\n\n`);
    res.on('close', () => {
      this.clients.delete(res);
      if (this.clients.size === 0) this.stopTimer();
    });
    // One timer for all clients, only while someone listens.
    this.timer ??= setInterval(() => void this.tick(), this.intervalMs);
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const json = JSON.stringify(await this.source());
      if (json === this.last) return;
      this.last = json;
      for (const c of this.clients) c.write(`data: ${json}\n\n`);
    } catch (err) {
      this.log.warn({ err }, `ops: reading the queue status failed: ${(err as Error).message}`);
    } finally {
      this.busy = false;
    }
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  close(): void {
    this.stopTimer();
    for (const c of this.clients) c.end();
    this.clients.clear();
  }
}

const ID = /^([0-9a-f]{16})(\.png)?$/;

function addMetricsRoute(app: FastifyInstance, metrics: OpsMetrics): void {
  app.get('/metrics', async (_req, reply) => {
    const text = await metrics.scrape();
    return reply.type(metrics.contentType).send(text);
  });
}

function addDashboardRoutes(app: FastifyInstance, source: StatusSource, hub: EventHub): void {
  app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(DASHBOARD_HTML));
  app.get('/favicon.ico', async (_req, reply) => reply.code(204).send());
  app.get('/api/status', async (_req, reply) => reply.header('cache-control', 'no-store').send(await source()));
  app.get('/api/events', async (req, reply) => {
    const first = JSON.stringify(await source());
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
    hub.add(reply.raw, first);
    req.log.debug('ops: events client connected');
  });
  const serve = (kind: 'png' | 'fits') => async (req: { params: unknown }, reply: import('fastify').FastifyReply) => {
    const m = ID.exec(String((req.params as { file: string }).file));
    // /quicklook/<id>.png and /fits/<id>: the suffix must match the route.
    if (!m || (kind === 'png') !== (m[2] === '.png')) return reply.code(404).send({ error: 'not found' });
    const st: QueueStatus = await source();
    const q = st.quicklooks?.find((x) => x.id === m[1]);
    if (!q) return reply.code(404).send({ error: 'not found' });
    const file = kind === 'png' ? q.png : q.fits;
    let size: number;
    try {
      size = statSync(file).size;
    } catch {
      return reply.code(404).send({ error: 'not found' });
    }
    reply.header('content-length', size).header('cache-control', 'no-cache');
    if (kind === 'png') reply.type('image/png');
    else reply.type('application/fits').header('content-disposition', `attachment; filename="${q.name.replace(/["\\\r\n]/g, '_')}"`);
    return reply.send(createReadStream(file));
  };
  app.get('/quicklook/:file', serve('png'));
  app.get('/fits/:file', serve('fits'));
}

async function listen(app: FastifyInstance, host: string, port: number): Promise<string> {
  await app.listen({ host, port });
  const addr = app.server.address();
  if (!addr || typeof addr === 'string') throw new Error('ops: the server has no TCP address');
  const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return `http://${h}:${addr.port}`;
}

/** Starts the servers the options ask for; `close()` stops them (and any event streams). */
export async function startOpsServers(opts: OpsServerOptions): Promise<OpsServers> {
  const host = opts.host ?? '127.0.0.1';
  const metrics = new OpsMetrics(opts.source);
  const hub = new EventHub(opts.source, opts.eventIntervalMs ?? 1000, opts.log);
  const apps: FastifyInstance[] = [];
  const make = () => {
    // Fastify's own request log would be noise in the service's log; errors still reach ours.
    const app = Fastify({ logger: false, forceCloseConnections: true });
    app.setErrorHandler((err, _req, reply) => {
      opts.log.error({ err }, `ops: ${(err as Error).message}`);
      void reply.code(500).send({ error: 'internal error' });
    });
    app.addHook('preClose', async () => hub.close());
    apps.push(app);
    return app;
  };
  const out: OpsServers = {
    close: async () => {
      hub.close();
      await Promise.all(apps.map((a) => a.close()));
    },
  };
  try {
    const shared = opts.httpPort !== undefined && opts.httpPort === opts.metricsPort;
    if (opts.httpPort !== undefined) {
      const app = make();
      addMetricsRoute(app, metrics);
      addDashboardRoutes(app, opts.source, hub);
      out.dashboardUrl = await listen(app, host, opts.httpPort);
      opts.log.info({ url: out.dashboardUrl }, `dashboard listening on ${out.dashboardUrl}`);
      if (shared) out.metricsUrl = out.dashboardUrl;
    }
    if (opts.metricsPort !== undefined && !shared) {
      const app = make();
      addMetricsRoute(app, metrics);
      out.metricsUrl = await listen(app, host, opts.metricsPort);
    }
    if (out.metricsUrl) opts.log.info({ url: out.metricsUrl }, `metrics listening on ${out.metricsUrl}`);
  } catch (err) {
    await out.close();
    throw err;
  }
  // Seed the stage histogram with the rows already present, before the first scrape asks.
  if (out.metricsUrl) await metrics.update().catch((err) => opts.log.warn({ err }, `ops: seeding metrics failed: ${(err as Error).message}`));
  return out;
}

/** The status source of a server over `queue`: `queueStatus` at the current time with `opts`. */
export function queueStatusSource(queue: StreamQueue, opts: QueueStatusOptions): StatusSource {
  return (extra = {}) => queueStatus(queue, { ...opts, ...extra }, Date.now() / 1000);
}

/** Where quicklooks of a service's products are: its flat output directory, or the layout's image and mosaic trees. */
export function quicklookRoots(outputDir: string | undefined, layout: Layout | null): string[] {
  if (!layout) return outputDir ? [outputDir] : [];
  const t = layout.dataTypes();
  return [t.image.stagingDir, t.image.publishedDir, t.mosaic.stagingDir, t.mosaic.publishedDir].filter((d): d is string => !!d);
}
