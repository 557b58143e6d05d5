/**
 * The child process of `--use-subprocess` (see subprocess.ts): converts one group and exits.
 * It stops at the next chunk boundary (leaving a checkpoint) when the parent asks, when the parent
 * goes away (the IPC channel closes), or on SIGTERM/SIGINT (a terminal's Ctrl-C reaches the whole
 * process group; the parent decides what happens next).
 */
import { asContimgError } from '../error.js';
import { defaultConverter, loadConverterModule } from './converter.js';
import type { FromChild, ToChild } from './subprocess.js';

const abort = new AbortController();
const stop = () => abort.abort();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('disconnect', stop);

function send(m: FromChild): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected || !process.send) return resolve();
    process.send(m, undefined, {}, () => resolve());
  });
}

/** The parent's answer to a fence request. */
let fenceAnswer: ((go: boolean) => void) | undefined;

/** Publishing through the parent's fence (see subprocess.ts). */
async function fenceViaParent(publish: () => void | Promise<void>): Promise<boolean> {
  const go = await new Promise<boolean>((resolve) => {
    fenceAnswer = resolve;
    void send({ type: 'fence' });
  });
  if (!go) return false;
  try {
    await publish();
  } catch (err) {
    await send({ type: 'fenced', ok: false, message: (err as Error).message });
    throw err;
  }
  await send({ type: 'fenced', ok: true });
  return true;
}

process.on('message', (m: ToChild) => {
  if (m.type === 'abort') return stop();
  if (m.type === 'fence-go' || m.type === 'fence-refused') {
    fenceAnswer?.(m.type === 'fence-go');
    fenceAnswer = undefined;
    return;
  }
  void (async () => {
    try {
      const converter = m.converterModule ? await loadConverterModule(m.converterModule) : defaultConverter;
      const result = await converter(m.job, m.opts, {
        signal: abort.signal,
        onProgress: (progress) => void send({ type: 'progress', progress }),
        fence: m.fenced ? fenceViaParent : undefined,
      });
      await send({ type: 'result', result });
      process.exit(0);
    } catch (err) {
      const e = asContimgError(err);
      await send({ type: 'error', code: e.code, message: e.message });
      process.exit(1);
    }
  })();
});
