/**
 * `contimg serve`: the streaming service's dashboard and Prometheus `/metrics` without the
 * service: for operators watching a queue from another machine, and for tests. It reads the
 * queue database `contimg stream` writes (opening it applies any pending migration, as
 * `contimg status` does) and never changes a group. Runs until SIGTERM/SIGINT.
 */
import path from 'node:path';
import { DEFAULT_TMPFS_PATH } from '../../convert/staging.js';
import { createLogger, normaliseLevel } from '../../log.js';
import { layoutBaseOptions, resolveLayout } from '../../layout/index.js';
import { defineCommand } from '../command.js';
import { checkPorts, existingQueueTarget, queueHealthOptions, queueStatusOptions } from './stream.js';

export const serveCommand = defineCommand({
  command: 'serve',
  describe: 'Serve the read-only dashboard and Prometheus /metrics of a streaming queue database',
  builder: (y) =>
    layoutBaseOptions(queueHealthOptions(y))
      .option('http-port', { type: 'number', describe: 'Dashboard (and /metrics) port (0: any free port); default 8080 unless only --metrics-port is given' })
      .option('metrics-port', { type: 'number', describe: '/metrics alone on this port (0: any free port)' })
      .option('http-host', { type: 'string', default: '127.0.0.1', describe: 'Listen address (default: this machine only)' })
      .option('output-dir', { type: 'string', describe: "The service's --output-dir: its free space, dead staging, and quicklooks (<name>.png beside <name>.fits)" })
      .option('scratch-dir', { type: 'string', describe: "The service's --scratch-dir (free space, dead staging)" })
      .option('tmpfs-path', { type: 'string', default: DEFAULT_TMPFS_PATH, describe: "The service's --tmpfs-path (free space, dead staging)" })
      .option('limit', { type: 'number', default: 20, describe: 'How many recent groups and metrics to show' })
      .option('log-level', { type: 'string', default: 'INFO', describe: 'DEBUG, INFO, WARNING, ERROR or CRITICAL' })
      .check((a) => {
        normaliseLevel(String(a['log-level']));
        checkPorts(a);
        return true;
      }),
  async run(a, { io }) {
    const log = createLogger({ level: a['log-level'], json: !io.isTTY, destination: io.isTTY ? undefined : { write: (s: string) => io.stderr(s) }, name: 'contimg-serve' });
    const target = existingQueueTarget(a);
    const { StreamQueue } = await import('../../stream/queue.js');
    const { startOpsServers, queueStatusSource, quicklookRoots } = await import('../../ops/server.js');
    const layout = a['stage-base'] || a['data-base'] ? resolveLayout({ stageBase: a['stage-base'], dataBase: a['data-base'] }) : null;
    const queue = await StreamQueue.open(target);
    const source = queueStatusSource(queue, {
      ...queueStatusOptions(a),
      quicklookRoots: quicklookRoots(a['output-dir'] ? path.resolve(a['output-dir']) : undefined, layout),
    });
    const httpPort = a['http-port'] ?? (a['metrics-port'] === undefined ? 8080 : undefined);
    let servers;
    try {
      servers = await startOpsServers({ source, host: a['http-host'], httpPort, metricsPort: a['metrics-port'], log });
    } catch (err) {
      await queue.close();
      throw err;
    }
    await new Promise<void>((resolve) => {
      const stop = (sig: NodeJS.Signals) => {
        log.info(`${sig} received: stopping`);
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        resolve();
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
    await servers.close();
    await queue.close();
    log.info('contimg serve stopped');
    return 0;
  },
});
