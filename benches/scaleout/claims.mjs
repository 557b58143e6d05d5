/**
 * Claim throughput (issue 14): 8 worker processes claim from one queue of pending 16-subband
 * groups until it is empty, on PostgreSQL 15 (a temporary server, fsync on, as deployed) and on
 * SQLite (WAL, the default), in the same run. Reports claims per second (claims / wall time from
 * the common start to the last claim) and double claims (must be 0), the median of 3 runs each.
 * Target: PostgreSQL ≥ 500 claims/s with 8 concurrent workers.
 *   node benches/scaleout/claims.mjs [--groups N] [--workers K] [--runs R]
 * Needs `npm run build` and postgresql-15.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { StreamQueue } from '../../dist/stream/queue.js';
import { startPostgres } from '../../scripts/pg-temp.mjs';
import { median } from '../lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const GROUPS = arg('groups', 3000);
const WORKERS = arg('workers', 8);
const RUNS = arg('runs', 3);

/** Fills a new queue with GROUPS pending groups of 16 files (bulk SQL: registration is not what is measured). */
async function fill(spec) {
  const q = await StreamQueue.open(spec);
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  for (let start = 0; start < GROUPS; start += 200) {
    const groups = [];
    const files = [];
    for (let i = start; i < Math.min(GROUPS, start + 200); i++) {
      const id = new Date(t0 + i * 300_000).toISOString().slice(0, 19);
      groups.push({ group_id: id, state: 'pending', received_at: 1e9 + i, last_update: 1e9 + i, error: null, checkpoint_path: null, processing_stage: 'collecting', chunk_minutes: 5, expected_subbands: 16 });
      for (let sb = 0; sb < 16; sb++) files.push({ group_id: id, subband_idx: sb, path: `/data/incoming/${id}_sb${String(sb).padStart(2, '0')}.hdf5`, size_bytes: 1, arrived_at: 1e9 + i, stamped_at: 1e9 + i, mtime_ms: 1 });
    }
    await q.db.insertInto('ingest_queue').values(groups).execute();
    await q.db.insertInto('subband_files').values(files).execute();
  }
  await q.close();
}

function claimer(spec, startAt, name) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(here, 'claimer.mjs'), spec, String(startAt), name], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`claimer ${name}: exit ${code}: ${err}`))));
  });
}

async function race(spec) {
  await fill(spec);
  // Start together once every process has opened its connection (node start-up included).
  const startAt = Date.now() + 3000;
  const results = await Promise.all(Array.from({ length: WORKERS }, (_, i) => claimer(spec, startAt, `w${i}`)));
  const ids = results.flatMap((r) => r.ids);
  const lastMs = Math.max(...results.map((r) => r.lastMs));
  const claims = ids.length;
  return { claims, doubleClaims: claims - new Set(ids).size, lost: GROUPS - new Set(ids).size, seconds: (lastMs - startAt) / 1000, claimsPerS: claims / ((lastMs - startAt) / 1000), perWorker: results.map((r) => r.ids.length) };
}


const pg = await startPostgres({ fsync: true });
const tmp = mkdtempSync(path.join(os.tmpdir(), 'contimg-bench-claims-'));
try {
  const runs = { postgres: [], sqlite: [] };
  for (let r = 0; r < RUNS; r++) {
    runs.postgres.push(await race(pg.createDatabase(`claims_${r}`)));
    runs.sqlite.push(await race(path.join(tmp, `claims_${r}.sqlite3`)));
  }
  const summary = Object.fromEntries(
    Object.entries(runs).map(([k, rs]) => [k, { medianClaimsPerS: Math.round(median(rs.map((x) => x.claimsPerS))), doubleClaims: rs.reduce((a, x) => a + x.doubleClaims, 0), lost: rs.reduce((a, x) => a + x.lost, 0), runs: rs.map((x) => ({ claimsPerS: Math.round(x.claimsPerS), seconds: x.seconds, perWorker: x.perWorker })) }]),
  );
  console.log(JSON.stringify({ bench: 'claims', groups: GROUPS, workers: WORKERS, cpus: os.cpus().length, ...summary, target: { postgresClaimsPerS: 500 } }, null, 2));
} finally {
  pg.stop();
  rmSync(tmp, { recursive: true, force: true });
}
