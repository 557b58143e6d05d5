/**
 * DirectoryWatcher against a real directory: files renamed into place over time in shuffled
 * order with clock jitter in their names, temporaries ignored, bad names logged once, the
 * startup scan, the polling fallback, and size stability for files written in place.
 */
import { EventEmitter } from 'node:events';
import { appendFileSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { watch as chokidarWatch } from 'chokidar';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { formGroups, parseSubbandName, parseUtc } from '../../ts/groups.js';
import { StreamQueue, type Arrival } from '../../ts/stream/queue.js';
import { DirectoryWatcher, type WatchFactory, type WatcherOptions } from '../../ts/stream/watcher.js';
import { cleanupTmpDirs, tmpDir } from '../helpers.js';
import { queueDb } from './backend.js';
import { WARN, captureLog, deliver, groupNames, rng, shuffle, stamp, waitFor } from './helpers.js';

afterAll(cleanupTmpDirs);

const T0 = parseUtc('2025-10-05T12:30:00');
const running: DirectoryWatcher[] = [];
afterEach(async () => {
  for (const w of running.splice(0)) await w.stop();
});

function setup(over: Partial<WatcherOptions> = {}, watch?: WatchFactory) {
  const dir = tmpDir();
  const input = path.join(dir, 'in');
  mkdirSync(input);
  const got: Arrival[] = [];
  const { log, lines, msgs } = captureLog();
  const w = new DirectoryWatcher(
    { inputDir: input, mode: 'auto', pollIntervalS: 0.1, settleS: 0.3, rescanIntervalS: 0, ...over },
    async (files) => void got.push(...files),
    log,
    watch,
  );
  running.push(w);
  return { dir, input, got, w, lines, msgs };
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('DirectoryWatcher', () => {
  it('registers files renamed into place over time, shuffled and jittered, into the groups formGroups forms', async () => {
    const dir = tmpDir();
    const input = path.join(dir, 'in');
    mkdirSync(input);
    const q = await StreamQueue.open(queueDb(dir, 'q'));
    const rules = { toleranceS: 60, expectedSubbands: 16, chunkMinutes: 5 };
    const reg: Arrival[] = [];
    const watcher = new DirectoryWatcher({ inputDir: input, mode: 'auto', pollIntervalS: 0.1, settleS: 30, rescanIntervalS: 0 }, async (files) => {
      reg.push(...files);
      await q.register(files, rules, Date.now() / 1000);
    }, captureLog().log);
    running.push(watcher);
    await watcher.start();
    expect(watcher.mode).toBe('inotify');
    const rand = rng(11);
    const names = shuffle([0, 1, 2].flatMap((i) => groupNames(T0 + i * 300_000, { jitterS: 45, rand })), rand);
    for (const n of names) {
      deliver(input, n.name);
      // Temporaries of other files come and go around them.
      writeFileSync(path.join(input, `.${n.name}.tmp`), 'x');
      if (rand() < 0.3) await tick(Math.floor(rand() * 15));
    }
    writeFileSync(path.join(input, `${stamp(T0)}_sb99_incomplete.hdf5`), 'still writing');
    // settleS is 30 s: only the rename (its `_incomplete` name was seen first) lets them in this fast.
    await waitFor(() => reg.length >= names.length, 'all 48 files', 10_000);
    await tick(200);
    expect(reg).toHaveLength(48);
    expect(new Set(reg.map((a) => a.path)).size).toBe(48);
    const expected = formGroups(reg, 60).groups.map((g) => g.id).sort();
    expect((await q.recentGroups(10)).map((g) => g.groupId).sort()).toEqual(expected);
    expect(await q.counts()).toMatchObject({ pending: 3, collecting: 0 });
    await q.close();
  });

  it('ignores incomplete and dot files, and logs a name it cannot parse once', async () => {
    const { input, got, w, lines } = setup();
    await w.start();
    writeFileSync(path.join(input, `${stamp(T0)}_sb00_incomplete.hdf5`), 'partial');
    writeFileSync(path.join(input, `.${stamp(T0)}_sb01.hdf5`), 'hidden');
    writeFileSync(path.join(input, '2025-13-05T12:30:00_sb02.hdf5'), 'bad month');
    writeFileSync(path.join(input, 'notes.txt'), 'hello');
    appendFileSync(path.join(input, '2025-13-05T12:30:00_sb02.hdf5'), 'again');
    await w.scan('rescan');
    await w.scan('rescan');
    const good = deliver(input, `${stamp(T0)}_sb03.hdf5`);
    await waitFor(() => got.length >= 1, 'the good file');
    await tick(400);
    expect(got.map((a) => a.path)).toEqual([good]);
    const bad = lines.filter((l) => l.level === WARN && String(l.msg).includes('2025-13-05T12:30:00_sb02.hdf5'));
    expect(bad.map((l) => l.msg)).toEqual([`ignoring ${path.join(input, '2025-13-05T12:30:00_sb02.hdf5')}: timestamp is not a valid UTC date and time`]);
    expect(lines.filter((l) => String(l.msg).includes('notes.txt'))).toHaveLength(1);
  });

  it('registers, on start, the files that arrived while it was down, except those already known', async () => {
    const dir = tmpDir();
    const input = path.join(dir, 'in');
    mkdirSync(input);
    const got: Arrival[] = [];
    const names = groupNames(T0, { jitterS: 20, rand: rng(3) });
    const paths = names.map((n) => deliver(input, n.name));
    await tick(300); // older than settleS: complete even though no rename was witnessed
    const known = new Set(paths.slice(0, 4));
    const w2 = new DirectoryWatcher({ inputDir: input, mode: 'auto', pollIntervalS: 0.1, settleS: 0.2, rescanIntervalS: 0, known }, async (files) => void got.push(...files), captureLog().log);
    running.push(w2);
    await w2.start();
    expect(got.map((a) => a.path).sort()).toEqual(paths.slice(4).sort());
    expect(got.every((a) => a.sizeBytes === 1024)).toBe(true);
  });

  it('falls back to polling when inotify fails to start (ENOSPC), and still finds new files', async () => {
    let inotifyTries = 0;
    const failingInotify: WatchFactory = (dir, opts) => {
      if (opts.usePolling) return chokidarWatch(dir, opts);
      inotifyTries++;
      const fake = new EventEmitter() as EventEmitter & { close(): Promise<void> };
      fake.close = async () => undefined;
      setImmediate(() => fake.emit('error', Object.assign(new Error('ENOSPC: System limit for number of file watchers reached'), { code: 'ENOSPC' })));
      return fake as never;
    };
    const { input, got, w, msgs } = setup({ pollIntervalS: 0.1 }, failingInotify);
    await w.start();
    expect(inotifyTries).toBe(1);
    expect(w.mode).toBe('poll');
    expect(msgs(WARN)).toContain(`inotify is unavailable for ${input} (ENOSPC); polling every 0.1 s instead`);
    const p = deliver(input, `${stamp(T0)}_sb05.hdf5`);
    await waitFor(() => got.some((a) => a.path === p), 'the file, by polling', 5_000);
  });

  it('falls back to polling when creating the inotify watcher throws', async () => {
    const throwing: WatchFactory = (dir, opts) => {
      if (opts.usePolling) return chokidarWatch(dir, opts);
      throw Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' });
    };
    const { input, got, w } = setup({}, throwing);
    await w.start();
    expect(w.mode).toBe('poll');
    const p = deliver(input, `${stamp(T0)}_sb06.hdf5`);
    await waitFor(() => got.some((a) => a.path === p), 'the file, by polling', 5_000);
  });

  it('polls when asked to (--watch-mode poll)', async () => {
    const { input, got, w } = setup({ mode: 'poll', pollIntervalS: 0.1 });
    await w.start();
    expect(w.mode).toBe('poll');
    const p = deliver(input, `${stamp(T0)}_sb07.hdf5`);
    await waitFor(() => got.some((a) => a.path === p), 'the file, by polling', 5_000);
  });

  it('takes a file written in place only once its size has been stable for the settle time', async () => {
    const { input, got, w } = setup({ settleS: 0.6 });
    await w.start();
    const p = path.join(input, `${stamp(T0)}_sb08.hdf5`);
    writeFileSync(p, Buffer.alloc(100));
    const started = Date.now();
    for (let i = 0; i < 5; i++) {
      await tick(200);
      appendFileSync(p, Buffer.alloc(100));
      expect(got).toHaveLength(0);
    }
    const lastWrite = Date.now();
    await waitFor(() => got.length > 0, 'the settled file', 5_000);
    expect(Date.now() - lastWrite).toBeGreaterThanOrEqual(550);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    expect(got).toEqual([{ ...(parseSubbandName(p) as { ok: true; name: object }).name, path: p, sizeBytes: 600, mtimeMs: statSync(p).mtimeMs }]);
  });

  it('stops watching each file once it is registered, so watches do not pile up over days of ingest', async () => {
    for (const mode of ['inotify', 'poll'] as const) {
      let real: ReturnType<typeof chokidarWatch> | undefined;
      const capture: WatchFactory = (dir, opts) => (real = chokidarWatch(dir, opts));
      const { input, got, w } = setup({ mode: mode === 'poll' ? 'poll' : 'auto', settleS: 0.2 }, capture);
      await w.start();
      const names = groupNames(T0).map((n) => n.name);
      for (const n of names) deliver(input, n);
      await waitFor(() => got.length === 16, `16 files (${mode})`);
      await w.drain();
      const watched = real!.getWatched()[input] ?? [];
      expect(watched.filter((n) => n.endsWith('.hdf5')), mode).toEqual([]);
      // and a later file is still seen
      const p = deliver(input, `${stamp(T0 + 300_000)}_sb00.hdf5`);
      await waitFor(() => got.some((a) => a.path === p), `a later file (${mode})`);
      expect(got).toHaveLength(17);
    }
  });

  it('hands a re-delivered file on only once', async () => {
    const { input, got, w } = setup({ settleS: 0.2 });
    await w.start();
    const name = `${stamp(T0)}_sb09.hdf5`;
    deliver(input, name);
    await waitFor(() => got.length === 1, 'first delivery');
    deliver(input, name); // the same name renamed over again
    appendFileSync(path.join(input, name), 'touched');
    await w.scan('rescan');
    await tick(500);
    expect(got).toHaveLength(1);
  });
});
