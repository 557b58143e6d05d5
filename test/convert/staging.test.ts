/**
 * The staging decision: where an MS is built before it is moved into place, from what the
 * output file system is (statfs) and how much room tmpfs and scratch have.
 */
import { statfsSync } from 'node:fs';
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { decideStaging, describeFs, realProbe, type StagingProbe } from '../../ts/convert/staging.js';

const GB = 1e9;
const EXT4 = 0xef53;
const NFS = 0x6969;

function probe(fsType: number, free: Record<string, number>): StagingProbe {
  return { freeBytes: (p) => free[p], fsType: () => fsType };
}

const base = { tmpfsPath: '/dev/shm', noTmpfs: false, keepTemp: false };

describe('decideStaging', () => {
  it('builds in place on a local output file system, even with room in tmpfs and scratch', () => {
    const d = decideStaging('g', '/out', 2 * GB, { ...base, scratchDir: '/scratch' }, false, probe(EXT4, { '/dev/shm': 20 * GB, '/scratch': 100 * GB }));
    expect(d.location).toBe('output');
    expect(d.dir.startsWith('/out/.contimg-staging-g')).toBe(true);
    expect(d.reason).toMatch(/local file system \(ext4\)/);
  });

  it('builds in the layout workspace (same tree, a rename) on a local file system', () => {
    const d = decideStaging('g', '/out', 2 * GB, { ...base, workspaceDir: '/ws' }, false, probe(EXT4, { '/dev/shm': 20 * GB }));
    expect(d.location).toBe('workspace');
  });

  it('builds in tmpfs on a network output file system when tmpfs has twice the MS free', () => {
    const d = decideStaging('g', '/out', 2 * GB, base, false, probe(NFS, { '/dev/shm': 4 * GB }));
    expect(d.location).toBe('tmpfs');
    expect(d.reason).toMatch(/nfs/);
  });

  it('falls back to scratch, then in place, on a network file system without room in tmpfs', () => {
    const withScratch = decideStaging('g', '/out', 2 * GB, { ...base, scratchDir: '/scratch' }, false, probe(NFS, { '/dev/shm': 3 * GB, '/scratch': 10 * GB }));
    expect(withScratch.location).toBe('scratch');
    const none = decideStaging('g', '/out', 2 * GB, base, false, probe(NFS, { '/dev/shm': 3 * GB }));
    expect(none.location).toBe('output');
    expect(none.reason).toMatch(/only 3.00 GB free/);
  });

  it('--staging tmpfs keeps seed 000 order on any file system; --no-tmpfs and --staging in-place never use tmpfs', () => {
    expect(decideStaging('g', '/out', 2 * GB, { ...base, mode: 'tmpfs' }, false, probe(EXT4, { '/dev/shm': 20 * GB })).location).toBe('tmpfs');
    expect(decideStaging('g', '/out', 2 * GB, { ...base, noTmpfs: true }, false, probe(NFS, { '/dev/shm': 20 * GB })).location).toBe('output');
    expect(decideStaging('g', '/out', 2 * GB, { ...base, noTmpfs: true, scratchDir: '/s' }, false, probe(NFS, { '/dev/shm': 20 * GB, '/s': 9 * GB })).location).toBe('scratch');
    expect(decideStaging('g', '/out', 2 * GB, { ...base, mode: 'in-place', scratchDir: '/s' }, false, probe(NFS, { '/dev/shm': 20 * GB, '/s': 99 * GB })).location).toBe('output');
  });
});

describe('the real probe', () => {
  it('reads the file system type of a path that does not exist yet from its nearest ancestor', () => {
    const tmp = os.tmpdir();
    const want = Number(statfsSync(tmp).type) >>> 0;
    expect(realProbe.fsType(`${tmp}/no/such/dir`)).toBe(want);
    expect(describeFs(want).network).toBe(false);
    expect(describeFs(NFS)).toEqual({ network: true, name: 'nfs' });
    expect(describeFs(0x01021994).name).toBe('tmpfs');
  });
});

describe('cleaning up after dead conversions in a shared output tree', () => {
  it('removes only this host’s dead owners’ entries, and never one whose owner record is not written yet', async () => {
    const { mkdirSync, mkdtempSync, existsSync, writeFileSync, readdirSync } = await import('node:fs');
    const path = await import('node:path');
    const { cleanAbandoned } = await import('../../ts/convert/staging.js');
    const { hostName } = await import('../../ts/host.js');
    const host = hostName().replace(/[^A-Za-z0-9._-]/g, '_');
    const base = mkdtempSync(path.join(os.tmpdir(), 'contimg-clean-'));
    const dead = 2 ** 22 + 12345; // above pid_max's default: no such process
    const mk = (name: string, owner?: object) => {
      mkdirSync(path.join(base, name));
      if (owner) writeFileSync(path.join(base, name, '.owner'), JSON.stringify(owner));
      return name;
    };
    const keep = [
      // A live worker of this host, in the instant between mkdir and its owner record.
      mk(`contimg-staging-2025-10-02T00:00:00-${process.pid}@${host}-aaaaaa`),
      // A worker on another host (its pid means nothing here), with and without its record.
      mk(`contimg-staging-2025-10-02T00:05:00-${dead}@other-host-7-bbbbbb`, { pid: dead, host: 'other-host-7' }),
      mk(`contimg-staging-2025-10-02T00:10:00-${dead}@other-host-7-cccccc`),
      mk(`.2025-10-02T00:15:00.ms.partial-${dead}@other-host-7-dddddd`),
      // Resumable staging (per claim): its checkpoint still needs it.
      mk('contimg-staging-2025-10-02T00:20:00-t3'),
    ];
    const gone = [
      mk(`contimg-staging-2025-10-02T00:25:00-${dead}@${host}-eeeeee`, { pid: dead, host }),
      mk(`contimg-staging-2025-10-02T00:30:00-${dead}@${host}-ffffff`),
      // Written before owner marks carried a host.
      mk(`.contimg-staging-2025-10-02T00:35:00-${dead}-abcdef`, { pid: dead }),
      mk(`.2025-10-02T00:40:00.ms.partial-${dead}@${host}-012345`),
      mk(`.2025-10-02T00:45:00.ms.partial-${dead}-012345`),
    ];
    const removed = cleanAbandoned(base).map((p: string) => path.basename(p));
    expect(removed.sort()).toEqual([...gone].sort());
    expect(readdirSync(base).sort()).toEqual([...keep].sort());
    for (const k of keep) expect(existsSync(path.join(base, k))).toBe(true);
  });
});
