/**
 * A real PostgreSQL 15 server for a test file: `initdb` and `pg_ctl` from Debian's
 * postgresql-15 (scripts/setup.sh installs it) in a temporary directory, listening on a free
 * loopback port, no system service. PostgreSQL refuses to run as root, so as root (CI, this VM)
 * the server runs as the `postgres` user that the Debian package creates.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface PgServer {
  /** A superuser URL to the server's `postgres` database. */
  url: string;
  /** A URL to a fresh, empty database on this server. */
  createDatabase(name: string): string;
  stop(): void;
}

function pgBinDir(): string {
  for (const dir of ['/usr/lib/postgresql/15/bin']) if (existsSync(path.join(dir, 'initdb'))) return dir;
  const r = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  if (r.status === 0 && existsSync(path.join(r.stdout.trim(), 'initdb'))) return r.stdout.trim();
  throw new Error('PostgreSQL 15 server binaries not found (apt-get install postgresql-15; scripts/setup.sh does it)');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export async function startPostgres(): Promise<PgServer> {
  const bin = pgBinDir();
  const root = process.getuid?.() === 0;
  const base = mkdtempSync(path.join(os.tmpdir(), 'contimg-pg-'));
  const data = path.join(base, 'data');
  let uid = 0;
  let gid = 0;
  if (root) {
    uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(base, uid, gid);
    chmodSync(base, 0o700);
  }
  const run = (exe: string, args: string[]) => {
    const cmd = root ? 'runuser' : path.join(bin, exe);
    const argv = root ? ['-u', 'postgres', '--', path.join(bin, exe), ...args] : args;
    const r = spawnSync(cmd, argv, { encoding: 'utf8', cwd: base });
    if (r.status !== 0) throw new Error(`${exe} ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
  };
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  const port = await freePort();
  // fsync off: the tests kill clients, never the server; a server crash is not what they test.
  const opts = `-p ${port} -k ${base} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200 -c shared_buffers=64MB`;
  run('pg_ctl', ['-D', data, '-o', opts, '-l', path.join(base, 'server.log'), '-w', '-t', '120', 'start']);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let stopped = false;
  return {
    url,
    createDatabase(name: string) {
      const r = spawnSync(path.join(bin, 'psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', url, '-c', `CREATE DATABASE "${name}"`], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`CREATE DATABASE ${name}: ${r.stderr}`);
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
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
