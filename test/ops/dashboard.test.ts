/**
 * The dashboard in a real browser (Debian's chromium through playwright-core): no console
 * errors, the counts equal `contimg status --json`, a completion shows within 5 s, quicklooks
 * load and their FITS links answer, and files outside the allowlist are never served.
 * Chromium is required: setup.sh installs it; without it this test fails, saying so.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTmpDirs, cliJson, root, tmpDir } from '../helpers.js';
import { ensureDist, logLines, spawnCli, waitFor, type Spawned } from '../stream/helpers.js';
import { knownQueue, writeQuicklook } from './helpers.js';

const CHROMIUM = process.env.CONTIMG_CHROMIUM ?? '/usr/bin/chromium';
let browser: Browser | undefined;

afterAll(async () => {
  await browser?.close();
  cleanupTmpDirs();
});
beforeAll(async () => {
  ensureDist();
  if (!existsSync(CHROMIUM)) throw new Error(`chromium not found at ${CHROMIUM}: run scripts/setup.sh (apt-get install chromium) or set CONTIMG_CHROMIUM`);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'], timeout: 60_000 });
}, 180_000);

async function dashboardUrl(svc: Spawned): Promise<string> {
  return waitFor(
    () => logLines(svc.stderr()).find((l) => String(l.msg).startsWith('dashboard listening on http://'))?.msg.slice('dashboard listening on '.length) as string | undefined,
    `the dashboard to listen:\n${svc.stderr()}`,
    30_000,
  );
}

/** The page's counts, by data-state-count. */
async function pageCounts(page: Page): Promise<Record<string, string>> {
  return page.$$eval('[data-state-count]', (els) => Object.fromEntries(els.map((e) => [e.getAttribute('data-state-count')!, e.textContent ?? ''])));
}

const asText = (counts: Record<string, number>, total: number) => ({ ...Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, String(v)])), total: String(total) });

describe('dashboard (contimg serve, chromium)', () => {
  it('shows what contimg status --json says, live, with quicklooks and FITS links', async () => {
    const dir = tmpDir();
    const db = path.join(dir, 'q.sqlite3');
    const out = path.join(dir, 'out');
    mkdirSync(out);
    const { queue, next } = await knownQueue(db);
    const image = writeQuicklook(path.join(out, 'images', '2025-10-05'), '2025-10-05T12:30:00_img.image', 16, 12);
    const mosaic = writeQuicklook(path.join(out, 'mosaics', '2025-10-05'), 'mosaic_2025-10-05T12:30:00_mean', 24, 20);
    const svc = spawnCli(['serve', '--queue-db', db, '--http-port', '0', '--output-dir', out]);
    const errors: string[] = [];
    const page = await browser!.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    try {
      const url = await dashboardUrl(svc);
      const status = await cliJson('status', '--queue-db', db, '--output-dir', out);
      await page.goto(url, { waitUntil: 'load', timeout: 60_000 });
      // Rendered once the first event arrives.
      await page.waitForFunction(() => document.querySelector('[data-state-count="completed"]')?.textContent !== '–', null, { timeout: 30_000 });
      expect(await pageCounts(page)).toEqual(asText(status.counts, status.total));
      expect(await page.$$eval('#warnings li', (els) => els.map((e) => e.textContent))).toEqual(status.warnings);
      expect(await page.$$eval('#groups td[data-group-id]', (els) => els.map((e) => e.getAttribute('data-group-id')))).toEqual(status.groups.map((g: { groupId: string }) => g.groupId));
      expect(await page.$$eval('#workers tbody td:nth-child(4)', (els) => els.map((e) => e.textContent))).toEqual(status.workers.map((w: { groupId: string }) => w.groupId));
      // The failed group's error, written as text.
      expect(await page.textContent('#groups')).toContain('CONVERT_FAILED: sb07 unreadable');

      // Quicklooks: both kinds, images decoded by the browser, FITS links answering 200.
      const figs = await page.$$eval('figure[data-quicklook-id]', (els) =>
        els.map((e) => ({ kind: e.getAttribute('data-kind'), img: (e.querySelector('img') as HTMLImageElement).src, fits: (e.querySelector('a') as HTMLAnchorElement).href })),
      );
      expect(figs.map((f) => f.kind).sort()).toEqual(['image', 'mosaic']);
      await page.waitForFunction(() => [...document.querySelectorAll('figure img')].every((i) => (i as HTMLImageElement).complete), null, { timeout: 30_000 });
      const sizes = await page.$$eval('figure img', (els) => els.map((i) => [(i as HTMLImageElement).naturalWidth, (i as HTMLImageElement).naturalHeight]));
      expect(sizes.sort((a, b) => a[0]! - b[0]!)).toEqual([
        [16, 12],
        [24, 20],
      ]);
      for (const f of figs) {
        const r = await page.request.get(f.fits);
        expect(r.status()).toBe(200);
        expect(r.headers()['content-type']).toBe('application/fits');
        expect((await r.body()).subarray(0, 30).toString('ascii')).toBe('SIMPLE  =                    T');
        expect((await r.body()).length).toBe(2880);
      }
      expect(status.quicklooks).toBeUndefined(); // `status` lists no quicklooks; `serve` does
      const api = await (await page.request.get(`${url}/api/status`)).json();
      expect(api.quicklooks.map((q: { png: string; fits: string }) => [q.png, q.fits]).sort()).toEqual([
        [image.png, image.fits],
        [mosaic.png, mosaic.fits],
      ]);

      // Only listed ids are served: no paths, no traversal, no other suffix.
      for (const bad of ['/quicklook/..%2F..%2F..%2Fetc%2Fpasswd', '/fits/..%2Fq.sqlite3', '/quicklook/0123456789abcdef.png', `/fits/${api.quicklooks[0].id}.png`, '/quicklook/%2Fetc%2Fpasswd.png']) {
        expect((await page.request.get(url + bad)).status(), bad).toBe(404);
      }

      // A group completes (another connection): the page shows it within 5 s.
      const before = Number((await pageCounts(page)).completed);
      const t0 = Date.now();
      await next();
      await page.waitForFunction((n) => document.querySelector('[data-state-count="completed"]')?.textContent === String(n), before + 1, { timeout: 5_000 });
      const lagMs = Date.now() - t0;
      const after = await cliJson('status', '--queue-db', db, '--output-dir', out);
      await page.waitForFunction((t) => document.querySelector('[data-state-count="total"]')?.textContent === String(t), after.total, { timeout: 5_000 });
      expect(await pageCounts(page)).toEqual(asText(after.counts, after.total));
      console.log(`dashboard showed the completion after ${lagMs} ms`);

      mkdirSync(path.join(root, 'test-artifacts'), { recursive: true });
      await page.screenshot({ path: path.join(root, 'test-artifacts', 'dashboard.png'), fullPage: true });
      expect(errors).toEqual([]);
    } finally {
      await page.close();
      await queue.close();
      svc.child.kill('SIGTERM');
      expect((await svc.exit).code).toBe(0);
    }
  }, 180_000);
});
