/**
 * A throwaway PostgreSQL 15 server for tests and benchmarks: `initdb` and `pg_ctl` from Debian's
 * postgresql-15 (scripts/setup.sh installs it) in a temporary directory, listening on a free
 * loopback port, no system service. PostgreSQL refuses to run as root, so as root (CI, the
 * development VM) the server runs as the `postgres` user that the Debian package creates.
 *
 *   const pg = await startPostgres(); … pg.createDatabase('x') … pg.stop();
 *
 * Plain JavaScript so the benchmarks (node scripts) and the vitest suites (test/postgres.ts)
 * share it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export function pgBinDir() {
  if (existsSync('/usr/lib/postgresql/15/bin/initdb')) return '/usr/lib/postgresql/15/bin';
  const r = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  if (r.status === 0 && existsSync(path.join(r.stdout.trim(), 'initdb'))) return r.stdout.trim();
  throw new Error('PostgreSQL 15 server binaries not found (apt-get install postgresql-15; scripts/setup.sh does it)');
}

/**
 * Runs SQL with psql as an operator would, unaligned and tuples-only: fields separated by
 * `separator` (default `|`, the sqlite3 CLI's format), NULL printed as `nullAs` (default empty).
 * Returns psql's output; throws with its message when the SQL fails.
 */
export function psql(url, query, { separator = '|', nullAs = '' } = {}) {
  const r = spawnSync(path.join(pgBinDir(), 'psql'), ['-X', '-q', '-A', '-t', '-F', separator, '-P', `null=${nullAs}`, '-v', 'ON_ERROR_STOP=1', url, '-c', query], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`psql ${query}: ${r.stderr}`);
  return r.stdout;
}

/** The URL of database `name` on the server of `serverUrl`. */
export function databaseUrl(serverUrl, name) {
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Creates an empty database on the server of `serverUrl`; returns its URL. */
export function createDatabase(serverUrl, name) {
  psql(serverUrl, `CREATE DATABASE "${name}"`);
  return databaseUrl(serverUrl, name);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/**
 * @param {{ fsync?: boolean }} [opts] fsync stays on for benchmarks (what a deployment runs);
 *   tests turn it off: they kill clients, never the server.
 */
export async function startPostgres(opts = {}) {
  const bin = pgBinDir();
  const root = process.getuid?.() === 0;
  const base = mkdtempSync(path.join(os.tmpdir(), 'contimg-pg-'));
  const data = path.join(base, 'data');
  if (root) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(base, uid, gid);
    chmodSync(base, 0o700);
  }
  const run = (exe, args) => {
    const cmd = root ? 'runuser' : path.join(bin, exe);
    const argv = root ? ['-u', 'postgres', '--', path.join(bin, exe), ...args] : args;
    const r = spawnSync(cmd, argv, { encoding: 'utf8', cwd: base });
    if (r.status !== 0) throw new Error(`${exe} ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
  };
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  const port = await freePort();
  const fsync = opts.fsync ?? false;
  const conf = `-p ${port} -k ${base} -c listen_addresses=127.0.0.1 -c fsync=${fsync ? 'on' : 'off'} -c max_connections=200 -c shared_buffers=64MB`;
  run('pg_ctl', ['-D', data, '-o', conf, '-l', path.join(base, 'server.log'), '-w', '-t', '120', 'start']);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let stopped = false;
  return {
    url,
    /** A fresh, empty database on this server; returns its URL. */
    createDatabase: (name) => createDatabase(url, name),
    stop() {
      if (stopped) return;
      stopped = true;
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(base, { recursive: true, force: true });
      }
    },
  };
}
