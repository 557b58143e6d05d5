/**
 * DirectoryWatcher: finds complete subband files in the input directory and hands them on.
 *
 * Discovery is inotify through chokidar, or polling (`--watch-mode poll`, and automatically when
 * inotify fails: ENOSPC when the watch limit is reached, or any error while starting). A startup
 * scan registers what arrived while the service was down, and a periodic rescan catches events
 * inotify can drop (its queue overflows silently).
 *
 * Only complete files are taken. The correlator writes `…_incomplete.hdf5` and renames it when
 * done, so a file whose `_incomplete` name was seen is taken as soon as it appears. A file
 * written in place under its final name is taken once its size and mtime have been unchanged
 * for `settleS`; one already older than that (moved in, or there before we started) at once.
 * Dot files and `_incomplete` names are never taken; any other name that `parseSubbandName`
 * refuses is logged once and ignored.
 */
import { watch as chokidarWatch, type ChokidarOptions, type FSWatcher } from 'chokidar';
import type { Stats } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.js';
import { parseSubbandName } from '../groups.js';
import type { Arrival } from './queue.js';

export type WatchMode = 'auto' | 'inotify' | 'poll';

/** The part of chokidar's watcher this module uses; tests substitute their own. */
export interface DirWatcher {
  /**
   * chokidar's (declared, underscore-named) method that closes the watch on one path and drops
   * it from the directory listing. Used, where present, to stop watching each registered file.
   */
  _closePath?(p: string): void;
  on(event: 'add' | 'change', cb: (p: string, stats?: Stats) => void): unknown;
  on(event: 'error', cb: (err: unknown) => void): unknown;
  on(event: 'ready', cb: () => void): unknown;
  on(event: 'raw', cb: (event: string, p: string, details: unknown) => void): unknown;
  close(): Promise<void>;
}
export type WatchFactory = (dir: string, opts: ChokidarOptions) => DirWatcher;

const defaultWatch: WatchFactory = (dir, opts) => chokidarWatch(dir, opts) as FSWatcher;

export interface WatcherOptions {
  inputDir: string;
  mode: WatchMode;
  /** Polling interval (seconds) when polling. */
  pollIntervalS: number;
  /** How long a file written in place must stay unchanged before it is taken (seconds). */
  settleS: number;
  /** Full rescans while inotify is in use, to catch dropped events (seconds; 0 = never). */
  rescanIntervalS: number;
  /** Paths already registered: not taken again, and not watched individually. */
  known?: Iterable<string>;
}

/** Receives complete files, in batches; the watcher marks them known once it resolves. */
export type ArrivalSink = (files: Arrival[]) => Promise<void>;

/** Bound on the names remembered as "already logged", so junk in the directory cannot grow memory without limit. */
const MAX_REMEMBERED_BAD = 10_000;

interface Settling {
  size: number;
  mtimeMs: number;
  stableSinceMs: number;
  timer: NodeJS.Timeout;
}

export class DirectoryWatcher {
  private readonly dir: string;
  private readonly known = new Set<string>();
  private readonly loggedBad = new Set<string>();
  /** Final names whose `_incomplete` file was seen: taken as soon as they appear (renamed into place). */
  private readonly renamedSoon = new Set<string>();
  private readonly settling = new Map<string, Settling>();
  private readonly inFlight = new Set<string>();
  private batch: Arrival[] = [];
  /** Files taken so far (for the startup scan's report). */
  private takenCount = 0;
  private flushScheduled = false;
  private chain: Promise<void> = Promise.resolve();
  private watcher: DirWatcher | undefined;
  private rescanTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private activeMode: 'inotify' | 'poll' = 'inotify';

  constructor(
    private readonly opts: WatcherOptions,
    private readonly sink: ArrivalSink,
    private readonly log: Logger,
    private readonly watchFactory: WatchFactory = defaultWatch,
  ) {
    this.dir = path.resolve(opts.inputDir);
    for (const p of opts.known ?? []) this.known.add(p);
  }

  /** How files are being discovered now. */
  get mode(): 'inotify' | 'poll' {
    return this.activeMode;
  }

  /** Scans what is already there, then watches. Resolves once the first watcher is ready. */
  async start(): Promise<void> {
    await this.scan('startup');
    await this.startWatching(this.opts.mode === 'poll' ? 'poll' : 'inotify');
    // Files that arrived between the startup scan and the watcher becoming ready.
    await this.scan('rescan');
    if (this.opts.rescanIntervalS > 0) {
      this.rescanTimer = setInterval(() => {
        if (this.activeMode === 'inotify') void this.scan('rescan').catch((e) => this.log.error({ err: e }, `rescan of ${this.dir} failed: ${String(e)}`));
      }, this.opts.rescanIntervalS * 1000);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.rescanTimer) clearInterval(this.rescanTimer);
    for (const s of this.settling.values()) clearTimeout(s.timer);
    this.settling.clear();
    await this.watcher?.close();
    this.watcher = undefined;
    await this.chain;
  }

  /** Resolves when every file taken so far has been handed to the sink. */
  async drain(): Promise<void> {
    while (this.flushScheduled || this.batch.length > 0) await new Promise((r) => setImmediate(r));
    await this.chain;
  }

  private watchOptions(mode: 'inotify' | 'poll'): ChokidarOptions {
    return {
      persistent: true,
      ignoreInitial: true,
      depth: 0,
      usePolling: mode === 'poll',
      interval: this.opts.pollIntervalS * 1000,
      binaryInterval: this.opts.pollIntervalS * 1000,
      alwaysStat: true,
      // Registered files need no watch of their own (each costs an inotify watch, or a stat per
      // poll); dot files are temporaries.
      ignored: (p: string) => p !== this.dir && (path.basename(p).startsWith('.') || this.known.has(p)),
    };
  }

  /** Starts chokidar in `mode`; resolves once it is ready (or, if inotify fails, once polling is). */
  private async startWatching(mode: 'inotify' | 'poll'): Promise<void> {
    this.activeMode = mode;
    const mayFallBack = () => this.activeMode === 'inotify' && this.opts.mode === 'auto';
    let w: DirWatcher;
    try {
      w = this.watchFactory(this.dir, this.watchOptions(mode));
    } catch (err) {
      if (!mayFallBack()) throw err;
      return this.fallBackToPolling(describe(err), undefined);
    }
    this.watcher = w;
    // Raw inotify events name every entry, however briefly it existed: an `_incomplete` file
    // renamed away within microseconds is still seen here, before chokidar reports the final
    // name (it reads the directory first), so the rename is known when the final name arrives.
    // They also name the final file as it is renamed into place; considering it here too means a
    // file chokidar fails to report under a burst of events is still taken at once.
    w.on('raw', (_event, p) => {
      if (typeof p !== 'string' || !p) return;
      const full = path.join(this.dir, path.basename(p));
      if (p.endsWith('_incomplete.hdf5')) this.expectRename(full);
      else if (p.endsWith('.hdf5')) void this.consider(full, 'scan');
    });
    w.on('add', (p, st) => void this.consider(path.resolve(p), 'event', st));
    w.on('change', (p, st) => void this.consider(path.resolve(p), 'event', st));
    await new Promise<void>((resolve) => {
      w.on('ready', () => {
        this.log.info(`watching ${this.dir} (${mode === 'poll' ? `polling every ${this.opts.pollIntervalS} s` : 'inotify'})`);
        resolve();
      });
      w.on('error', (err) => {
        const code = (err as NodeJS.ErrnoException)?.code;
        if (this.watcher === w && mayFallBack()) {
          // ENOSPC (the watch limit) or EMFILE, at start or later: inotify cannot be relied on.
          void this.fallBackToPolling(code ?? describe(err), w).then(resolve);
          return;
        }
        this.log.error({ code }, `watching ${this.dir}: ${describe(err)}`);
      });
    });
  }

  private async fallBackToPolling(why: string, failed: DirWatcher | undefined): Promise<void> {
    this.activeMode = 'poll';
    this.watcher = undefined;
    this.log.warn(`inotify is unavailable for ${this.dir} (${why}); polling every ${this.opts.pollIntervalS} s instead`);
    await failed?.close().catch(() => undefined);
    if (this.stopped) return;
    await this.startWatching('poll');
    // Whatever arrived between the failure and the polling watcher.
    await this.scan('rescan');
  }

  /**
   * Lists the directory and considers every name not yet known. The startup scan registers in
   * time order (one batch), so a backlog groups exactly as `contimg convert` would group it.
   */
  async scan(why: 'startup' | 'rescan'): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      this.log.error(`cannot list ${this.dir}: ${describe(err)}`);
      return;
    }
    const before = this.takenCount;
    const fresh = names.map((n) => path.join(this.dir, n)).filter((p) => !this.known.has(p) && !this.settling.has(p) && !this.inFlight.has(p));
    await Promise.all(fresh.map((p) => this.consider(p, 'scan')));
    await this.drain();
    const found = this.takenCount - before;
    if (why === 'startup') this.log.info(`startup scan of ${this.dir}: ${names.length} entries, ${found} new subband file(s)`);
    // Usually files whose events were still on their way; a steady stream here means inotify drops events.
    else if (found > 0) this.log.debug(`rescan of ${this.dir} took ${found} new file(s)`);
  }

  /**
   * A registered file is never looked at again. chokidar keeps a watch on every file it has
   * reported (an inotify watch each, or a stat per poll), which over days of ingest would exhaust
   * the inotify watch limit; close it. The `ignored` test then keeps it out for good.
   */
  private forget(p: string): void {
    this.known.add(p);
    this.watcher?._closePath?.(p);
  }

  /** The writer's temporary `…_incomplete.hdf5` was seen: its final name will be complete. */
  private expectRename(incomplete: string): void {
    if (this.renamedSoon.size >= MAX_REMEMBERED_BAD) this.renamedSoon.clear();
    this.renamedSoon.add(incomplete.replace(/_incomplete\.hdf5$/, '.hdf5'));
  }

  private logBadOnce(p: string, reason: string): void {
    if (this.loggedBad.has(p)) return;
    if (this.loggedBad.size >= MAX_REMEMBERED_BAD) this.loggedBad.clear();
    this.loggedBad.add(p);
    // A misnamed HDF5 file is probably a subband the pipeline will never see: say so loudly.
    if (/\.(hdf5|h5|uvh5)$/i.test(p)) this.log.warn(`ignoring ${p}: ${reason}`);
    else this.log.debug(`ignoring ${p}: ${reason}`);
  }

  private async consider(p: string, via: 'event' | 'scan', st?: Stats): Promise<void> {
    if (this.stopped || path.dirname(p) !== this.dir) return;
    const base = path.basename(p);
    if (base.startsWith('.')) return;
    if (base.endsWith('_incomplete.hdf5')) return this.expectRename(p);
    if (this.known.has(p) || this.inFlight.has(p)) return;
    const parsed = parseSubbandName(base);
    if (!parsed.ok) return this.logBadOnce(p, parsed.reason);
    let s = st;
    try {
      if (!s || via === 'scan') s = await stat(p);
    } catch {
      return; // gone again (renamed away or deleted) before we looked
    }
    // Another report of the same file may have taken it while we looked.
    if (this.known.has(p) || this.inFlight.has(p)) return;
    if (!s.isFile()) return this.logBadOnce(p, 'not a regular file');
    const renamed = this.renamedSoon.delete(p);
    const quietMs = Date.now() - s.mtimeMs;
    if (renamed || quietMs >= this.opts.settleS * 1000) {
      this.take({ ...parsed.name, path: p, sizeBytes: s.size, mtimeMs: s.mtimeMs });
      return;
    }
    this.watchSize(p, s);
  }

  /** Polls a file written in place until its size and mtime hold still for `settleS`. */
  private watchSize(p: string, s: Stats): void {
    const existing = this.settling.get(p);
    if (existing) {
      if (existing.size !== s.size || existing.mtimeMs !== s.mtimeMs) Object.assign(existing, { size: s.size, mtimeMs: s.mtimeMs, stableSinceMs: Date.now() });
      return;
    }
    const stepMs = Math.max(50, Math.min(1000, (this.opts.settleS * 1000) / 4));
    const entry: Settling = { size: s.size, mtimeMs: s.mtimeMs, stableSinceMs: Date.now(), timer: setTimeout(() => check(), stepMs) };
    this.settling.set(p, entry);
    const check = async () => {
      if (this.stopped) return;
      let now: Stats;
      try {
        now = await stat(p);
      } catch {
        this.settling.delete(p);
        return;
      }
      if (now.size !== entry.size || now.mtimeMs !== entry.mtimeMs) {
        Object.assign(entry, { size: now.size, mtimeMs: now.mtimeMs, stableSinceMs: Date.now() });
      } else if (Date.now() - entry.stableSinceMs >= this.opts.settleS * 1000) {
        this.settling.delete(p);
        const parsed = parseSubbandName(path.basename(p));
        if (parsed.ok) this.take({ ...parsed.name, path: p, sizeBytes: now.size, mtimeMs: now.mtimeMs });
        return;
      }
      entry.timer = setTimeout(() => void check(), stepMs);
    };
  }

  private take(a: Arrival): void {
    this.takenCount++;
    this.inFlight.add(a.path);
    this.batch.push(a);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Files found in the same turn (a scan, a burst of events) go to the sink together.
    setImmediate(() => {
      this.flushScheduled = false;
      const files = this.batch;
      this.batch = [];
      this.chain = this.chain.then(async () => {
        try {
          await this.sink(files);
          for (const f of files) this.forget(f.path);
        } catch (err) {
          // Not marked known: the next rescan offers them again.
          this.log.error({ err }, `could not register ${files.length} file(s) (${files[0]?.path}…): ${describe(err)}`);
        } finally {
          for (const f of files) this.inFlight.delete(f.path);
        }
      });
    });
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) return (err as NodeJS.ErrnoException).code ? `${(err as NodeJS.ErrnoException).code}: ${err.message}` : err.message;
  return String(err);
}
