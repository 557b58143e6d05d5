/**
 * Prometheus /metrics, read by the reference parser (prometheus_client, in the oracle venv):
 * every queue gauge equals `contimg status --json`, the stage histogram holds each
 * performance_metrics row exactly once, and `contimg stream --metrics-port 0` serves it live.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WARNINGS } from '../../ts/stream/monitor.js';
import { WARNING_KINDS, warningKind, type QueueStatus } from '../../ts/stream/status.js';
import { cleanupTmpDirs, cliJson, oracle, root, tmpDir } from '../helpers.js';
import { deliver, ensureDist, groupNames, logLines, spawnCli, testConverterModule, waitFor, type Spawned } from '../stream/helpers.js';
import { knownQueue, T0_MS, TIMINGS, WORKER } from './helpers.js';

afterAll(cleanupTmpDirs);
beforeAll(() => ensureDist(), 180_000);

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number | string;
}
interface Family {
  name: string;
  type: string;
  samples: Sample[];
}

/** Scrapes `url` and parses it with prometheus_client's parser. */
async function scrape(url: string): Promise<Map<string, Family>> {
  const r = await fetch(`${url}/metrics`);
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const file = path.join(tmpDir(), 'metrics.txt');
  writeFileSync(file, await r.text());
  const families = await oracle<Family[]>('parse_prometheus.py', file);
  return new Map(families.map((f) => [f.name, f]));
}

const one = (fams: Map<string, Family>, family: string, sample: string, labels: Record<string, string> = {}) => {
  const s = fams.get(family)?.samples.filter((x) => x.name === sample && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  if (!s || s.length !== 1) throw new Error(`${sample}${JSON.stringify(labels)}: ${s?.length ?? 0} samples`);
  return s[0]!.value;
};

/** The URL a server logged as "<what> listening on http://…". */
async function listening(svc: Spawned, what: 'metrics' | 'dashboard'): Promise<string> {
  return waitFor(
    () => {
      const l = logLines(svc.stderr()).find((x) => String(x.msg).startsWith(`${what} listening on http://`));
      return l ? String(l.msg).slice(`${what} listening on `.length) : undefined;
    },
    `"${what} listening on" in the log:\n${svc.stderr()}`,
    30_000,
  );
}

async function stop(svc: Spawned): Promise<void> {
  svc.child.kill('SIGTERM');
  expect((await svc.exit).code).toBe(0);
}

/** performance_metrics straight from SQL: row count and per-stage sums. */
function sqlTimings(db: string) {
  const d = new Database(db, { readonly: true });
  try {
    return d.prepare('SELECT COUNT(*) AS n, SUM(load_time) AS load, SUM(phase_time) AS phase, SUM(write_time) AS write, SUM(total_time) AS total FROM performance_metrics').get() as Record<string, number>;
  } finally {
    d.close();
  }
}

describe('warning kinds', () => {
  it('classifies every warning template queueWarnings and stagingWarning raise', () => {
    const got = [
      warningKind(WARNINGS.highQueueDepth(12)),
      warningKind(WARNINGS.staleInProgress(3, 900)),
      warningKind(WARNINGS.waitingForSubbands('2025-10-05T12:30:00', 600)),
      warningKind(WARNINGS.slowGroup('2025-10-05T12:30:00', 301.5, 270)),
      warningKind(WARNINGS.stagingLeftovers(['/x/a', '/x/b'], 3e9)),
    ];
    expect(got).toEqual([...WARNING_KINDS]);
    expect(warningKind('something else')).toBeNull();
  });
});

describe('/metrics (contimg serve)', () => {
  it('equals contimg status --json; the stage histogram counts each timing row once', async () => {
    const dir = tmpDir();
    const db = path.join(dir, 'q.sqlite3');
    const { queue, next } = await knownQueue(db);
    mkdirSync(path.join(dir, 'out'));
    const svc = spawnCli(['serve', '--queue-db', db, '--metrics-port', '0', '--output-dir', path.join(dir, 'out')]);
    try {
      const url = await listening(svc, 'metrics');
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      // --metrics-port alone: no dashboard.
      expect((await fetch(`${url}/`)).status).toBe(404);

      const status = await cliJson('status', '--queue-db', db, '--output-dir', path.join(dir, 'out'));
      const m = await scrape(url);
      expect(status.counts).toEqual({ collecting: 1, pending: 2, in_progress: 1, completed: 3, failed: 1 });
      expect(m.get('contimg_queue_groups')?.type).toBe('gauge');
      expect(Object.fromEntries(m.get('contimg_queue_groups')!.samples.map((s) => [s.labels.state, s.value]))).toEqual(status.counts);
      expect(m.get('contimg_groups_completed')?.type).toBe('counter');
      expect(one(m, 'contimg_groups_completed', 'contimg_groups_completed_total')).toBe(status.counts.completed);
      expect(one(m, 'contimg_groups_failed', 'contimg_groups_failed_total')).toBe(status.counts.failed);

      // The histogram against SQL, not against our own code.
      const sql = sqlTimings(db);
      expect(sql.n).toBe(3);
      expect(m.get('contimg_stage_duration_seconds')?.type).toBe('histogram');
      for (const stage of ['load', 'phase', 'write', 'total'] as const) {
        expect(one(m, 'contimg_stage_duration_seconds', 'contimg_stage_duration_seconds_count', { stage })).toBe(sql.n);
        expect(one(m, 'contimg_stage_duration_seconds', 'contimg_stage_duration_seconds_sum', { stage })).toBeCloseTo(sql[stage]!, 9);
      }
      // Totals 10, 300, 26.9 s: two at or under 270 s, all three under +Inf.
      expect(one(m, 'contimg_stage_duration_seconds', 'contimg_stage_duration_seconds_bucket', { stage: 'total', le: '270' })).toBe(2);
      expect(one(m, 'contimg_stage_duration_seconds', 'contimg_stage_duration_seconds_bucket', { stage: 'total', le: '+Inf' })).toBe(3);
      expect(TIMINGS.filter((t) => t.writeS <= 30)).toHaveLength(2);
      expect(one(m, 'contimg_stage_duration_seconds', 'contimg_stage_duration_seconds_bucket', { stage: 'write', le: '30' })).toBe(2);

      // Warnings: 1 for each kind status reports, 0 for the quiet ones, every kind present.
      const warn = Object.fromEntries(m.get('contimg_monitor_warning')!.samples.map((s) => [s.labels.kind, s.value]));
      expect(warn).toEqual(status.warningKinds);
      expect(warn).toEqual({ queue_depth: 0, stale_in_progress: 1, stale_collecting: 1, slow_group: 1, staging_leftovers: 0 });

      // The one in-progress claim, heartbeat at clock 1030 s.
      const lease = m.get('contimg_worker_lease')!.samples;
      const inProgress = status.groups.find((g: { state: string }) => g.state === 'in_progress').groupId;
      expect(lease.map((s) => s.labels)).toEqual([{ host: WORKER.host, pid: String(WORKER.pid), group: inProgress }]);
      expect(status.workers).toMatchObject([{ host: WORKER.host, pid: WORKER.pid, groupId: inProgress, lastUpdate: '1970-01-01T00:17:10Z' }]);
      const age = Number(lease[0]!.value);
      expect(Math.abs(age - (Date.now() / 1000 - 1030))).toBeLessThan(120);

      const free = Object.fromEntries(m.get('contimg_staging_free_bytes')!.samples.map((s) => [s.labels.area, s.value]));
      expect(Object.keys(free).sort()).toEqual(status.staging.map((a: { area: string }) => a.area).sort());
      for (const a of status.staging) if (a.freeBytes !== null) expect(Math.abs(Number(free[a.area]) - a.freeBytes)).toBeLessThan(1e9);

      // deploy/: the Grafana panels and alert rules query only series this exporter writes.
      const exposed = new Set([...m.values()].flatMap((f) => f.samples.map((x) => x.name)));
      const dashboard = JSON.parse(readFileSync(path.join(root, 'deploy', 'grafana', 'contimg-dashboard.json'), 'utf8'));
      const exprs = [
        ...dashboard.panels.flatMap((p: { targets: { expr: string }[] }) => p.targets.map((t) => t.expr)),
        readFileSync(path.join(root, 'deploy', 'prometheus', 'contimg-alerts.yml'), 'utf8'),
      ].join('\n');
      const used = new Set(exprs.match(/contimg_[a-z_]+/g));
      expect(used.size).toBeGreaterThanOrEqual(7);
      for (const n of used) expect(exposed.has(n), n).toBe(true);

      // A new completion: observed once, however often Prometheus scrapes.
      const g = await next();
      for (let i = 0; i < 3; i++) {
        const again = await scrape(url);
        const st = await cliJson('status', '--queue-db', db);
        expect(st.counts.completed).toBe(4);
        expect(Object.fromEntries(again.get('contimg_queue_groups')!.samples.map((s) => [s.labels.state, s.value]))).toEqual(st.counts);
        expect(one(again, 'contimg_groups_completed', 'contimg_groups_completed_total')).toBe(4);
        const sql2 = sqlTimings(db);
        expect(sql2.n).toBe(4);
        for (const stage of ['load', 'phase', 'write', 'total'] as const) {
          expect(one(again, 'contimg_stage_duration_seconds', 'contimg_stage_duration_seconds_count', { stage })).toBe(sql2.n);
          expect(one(again, 'contimg_stage_duration_seconds', 'contimg_stage_duration_seconds_sum', { stage })).toBeCloseTo(sql2[stage]!, 9);
        }
        expect(st.groups.find((x: { groupId: string }) => x.groupId === g).state).toBe('completed');
      }
    } finally {
      await queue.close();
      await stop(svc);
    }
  }, 120_000);
});

describe('contimg stream --metrics-port / --http-port', () => {
  it('serves /metrics and the dashboard while converting, and closes them on SIGTERM', async () => {
    const dir = tmpDir();
    const x = { input: path.join(dir, 'in'), output: path.join(dir, 'out'), db: path.join(dir, 'q.sqlite3') };
    mkdirSync(x.input);
    const svc = spawnCli(
      [
        'stream', '--input-dir', x.input, '--output-dir', x.output, '--queue-db', x.db,
        '--worker-poll-interval', '0.1', '--poll-interval', '0.2', '--settle-time', '0.2',
        '--no-monitoring', '--no-tmpfs', '--converter-module', testConverterModule,
        '--metrics-port', '0', '--http-port', '0',
      ],
      { CONTIMG_TEST_CONVERTER_STEPS: '2', CONTIMG_TEST_CONVERTER_STEP_MS: '20' },
    );
    const url = await listening(svc, 'metrics');
    expect(await listening(svc, 'dashboard')).toBe(url); // equal ports: one server
    for (const n of groupNames(T0_MS)) deliver(x.input, n.name);
    const m = await waitFor(async () => {
      const s = await scrape(url);
      return one(s, 'contimg_groups_completed', 'contimg_groups_completed_total') === 1 ? s : undefined;
    }, 'the group to complete', 60_000, 250);
    expect(one(m, 'contimg_stage_duration_seconds', 'contimg_stage_duration_seconds_count', { stage: 'total' })).toBe(1);
    expect(one(m, 'contimg_stage_duration_seconds', 'contimg_stage_duration_seconds_sum', { stage: 'total' })).toBeCloseTo(sqlTimings(x.db).total!, 9);
    const api = (await (await fetch(`${url}/api/status`)).json()) as QueueStatus;
    expect(api.counts).toEqual({ collecting: 0, pending: 0, in_progress: 0, completed: 1, failed: 0 });
    expect(api.staging.map((a: { area: string }) => a.area)).toContain('output');
    await stop(svc);
    await expect(fetch(`${url}/metrics`)).rejects.toThrow();
  }, 120_000);
});
