/** Helpers for the ops tests: a queue database in known states, quicklook files, the server. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { parseSubbandName } from '../../ts/groups.js';
import type { ProcessIdentity } from '../../ts/stream/owner.js';
import { StreamQueue, type Arrival, type GroupingRules } from '../../ts/stream/queue.js';
import { groupNames } from '../stream/helpers.js';

export const RULES: GroupingRules = { toleranceS: 60, expectedSubbands: 16, chunkMinutes: 5 };
/** 2025-10-05T12:30:00Z: group i starts 5 min after group i−1. */
export const T0_MS = Date.UTC(2025, 9, 5, 12, 30, 0);
export const WORKER: ProcessIdentity = { host: 'node-a', pid: 4242, start: 'boot-1' };

function arrivals(dir: string, startMs: number, subbands = 16): Arrival[] {
  return groupNames(startMs)
    .slice(0, subbands)
    .map((n) => {
      const p = parseSubbandName(n.name);
      if (!p.ok) throw new Error(p.reason);
      return { ...p.name, path: path.join(dir, n.name), sizeBytes: 100 };
    });
}

/** The timings recorded for the completed groups (seconds); the second is slower than 270 s. */
export const TIMINGS = [
  { loadS: 3, phaseS: 4, writeS: 3, totalS: 10 },
  { loadS: 90, phaseS: 120, writeS: 90, totalS: 300 },
  { loadS: 0.4, phaseS: 1.5, writeS: 25, totalS: 26.9 },
];

/**
 * A queue with 3 completed groups (with timings), 1 failed, 2 pending (one waiting out a retry
 * backoff), 1 in progress (claimed by WORKER, last heartbeat at clock 1030) and 1 collecting
 * (5 of 16 subbands), on a fake clock starting at 1000 s: long ago, so the in-progress claim
 * and the collecting group are stale.
 */
export async function knownQueue(file: string): Promise<{ queue: StreamQueue; next: () => Promise<string> }> {
  const q = await StreamQueue.open(file);
  const dir = path.join(path.dirname(file), 'in');
  let i = 0;
  const pending = async (nowS: number) => {
    const regs = await q.register(arrivals(dir, T0_MS + i++ * 300_000), RULES, nowS);
    const last = regs.at(-1)!;
    if (last.kind === 'known' || last.kind === 'duplicate' || !last.becamePending) throw new Error('group did not become pending');
    return last.groupId;
  };
  for (const [k, t] of TIMINGS.entries()) {
    await pending(1000 + k);
    const c = (await q.claimNext(WORKER, 1010 + k))!;
    if (!(await q.complete(c, t, 1020 + k))) throw new Error('complete failed');
  }
  await pending(1005);
  const f = (await q.claimNext(WORKER, 1011))!;
  await q.retryOrFail(f, 'CONVERT_FAILED: sb07 unreadable', { maxRetries: 1, backoffBaseS: 30 }, 1012);
  await pending(1006);
  const r = (await q.claimNext(WORKER, 1013))!;
  await q.retryOrFail(r, 'transient', { maxRetries: 3, backoffBaseS: 1e10 }, 1014);
  await pending(1007);
  const p = (await q.claimNext(WORKER, 1015))!;
  await q.heartbeat(p, 1030);
  await pending(1008); // stays pending
  await q.register(arrivals(dir, T0_MS + i++ * 300_000, 5), RULES, 1009);
  // For later steps of a test: the one claimable pending group is claimed and completed.
  const next = async () => {
    const c = await q.claimNext({ ...WORKER, pid: 4343 }, Date.now() / 1000);
    if (!c) throw new Error('no claimable group');
    if (!(await q.complete(c, { loadS: 1, phaseS: 2, writeS: 3, totalS: 6 }, Date.now() / 1000))) throw new Error('complete failed');
    return c.groupId;
  };
  return { queue: q, next };
}

/** A tiny valid RGB PNG (w × h, a gradient). */
export function tinyPng(w = 8, h = 6): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, no interlace
  const raw = Buffer.alloc(h * (1 + 3 * w));
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw.set([(x * 255) / w, (y * 255) / h, 128], y * (1 + 3 * w) + 1 + 3 * x);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

/** A minimal valid FITS file (a header block, no data). */
export function tinyFits(): Buffer {
  const cards = ['SIMPLE  =                    T', 'BITPIX  =                    8', 'NAXIS   =                    0', 'END'];
  return Buffer.from(cards.map((c) => c.padEnd(80)).join('').padEnd(2880), 'ascii');
}

/** Writes `<dir>/<stem>.png` and `<dir>/<stem>.fits`; returns their paths. */
export function writeQuicklook(dir: string, stem: string, w = 8, h = 6): { png: string; fits: string } {
  mkdirSync(dir, { recursive: true });
  const png = path.join(dir, `${stem}.png`);
  const fits = path.join(dir, `${stem}.fits`);
  writeFileSync(fits, tinyFits());
  writeFileSync(png, tinyPng(w, h));
  return { png, fits };
}
