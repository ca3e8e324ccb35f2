/**
 * `grantry start`: runs the server until SIGINT or SIGTERM; with --workers N (or the workers
 * setting) above 1, N server processes on one port (cli/cluster.ts).
 */
import type { Command } from 'commander';
import { type Config, loadConfig, parseSetting } from '../../config/index.js';
import { isPretty } from '../../http/logging.js';
import type { RunningServer } from '../../server.js';
import { isClusterWorker, runWorker, superviseWorkers } from '../cluster.js';
import { configFileOf, dataDirOptionOf } from '../context.js';
import { action, type JsonObject } from '../output.js';

/** The configuration, --workers over GRANTRY_WORKERS / workers, --data-dir over data_dir. */
function loadStartConfig(cmd: Command): Config {
  const dataDir = dataDirOptionOf(cmd);
  const workers = cmd.opts<{ workers?: string }>().workers;
  return loadConfig({
    configFile: configFileOf(cmd),
    overrides: {
      ...(dataDir === undefined ? {} : { dataDir }),
      ...(workers === undefined ? {} : { workers: parseSetting('workers', workers, '--workers') }),
    },
  });
}

/** The --json result: where the server listens and each side's addresses. */
function summaryOf(server: RunningServer, config: Config): JsonObject {
  return {
    url: server.url,
    public_url: config.publicUrl,
    sides: server.grantry.sides.all.map((side) => ({
      name: side.name,
      issuer: side.issuer,
      authorize_url: config.publicUrl + side.authorizePath,
      login_url: config.publicUrl + side.loginPath,
      api_url: config.publicUrl + side.apiPath,
    })),
  };
}

export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description('start the HTTP server (migrates the database, creates the signing key and the first admin if missing)')
    .option('--workers <n>', 'server processes on the one port: a number from 1 to 64, or auto for one per CPU (default: GRANTRY_WORKERS / workers, else 1)')
    .option('--json', 'print the listening addresses as one JSON object on stdout (log lines go to stderr)')
    .action(
      action(async (out, cmd) => {
        // Log lines of the server go to stderr with --json: stdout holds the one JSON object. A
        // generated admin password goes to stderr always, never into the log stream.
        const toStderr = (line: string) => void process.stderr.write(`${line}\n`);
        const httpOptions = { tellSecret: toStderr, ...(out.json ? { logTo: process.stderr } : {}) };
        if (isClusterWorker()) {
          // A process that `start --workers` forked: it serves, the primary prints, also why this
          // one could not start (its configuration included: the file may have changed since).
          await runWorker(
            async (log) => {
              const config = loadStartConfig(cmd);
              const { startServer } = await import('../../server.js');
              return startServer(config, log, { ...httpOptions, metricsListener: false });
            },
            (server) => summaryOf(server, server.grantry.config),
          );
          return;
        }
        const config = loadStartConfig(cmd);
        // The start-up and stop lines are for people: on stdout when it shows readable log lines
        // or none, on stderr when stdout holds JSON (the --json result, or JSON log lines that a
        // collector parses).
        const jsonLogsOnStdout = config.logLevel !== 'silent' && !isPretty(config.logFormat, process.stdout);
        const log = out.json || jsonLogsOnStdout ? toStderr : (line: string) => void process.stdout.write(`${line}\n`);
        // Listen before starting, so a signal that arrives during start-up still closes cleanly.
        const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        // Loaded on demand, like the core in withGrantry(): other commands skip the HTTP stack.
        const { startServer, bootstrap } = await import('../../server.js');

        if (config.workers > 1) {
          const { createGrantry } = await import('../../app.js');
          const { listenForClusterMetrics } = await import('../../observability/metrics.js');
          const metrics = await listenForClusterMetrics(config);
          if (metrics) log(`  metrics                ${metrics.url} (all workers)`);
          try {
            await superviseWorkers({
              workers: config.workers,
              log,
              info: (message) => out.info(message),
              warn: (message) => out.warn(message),
              stopSignal,
              // Migrations, the seed signing key and the first admin (its password printed once),
              // here and once, before the workers open the database.
              async prepare() {
                const grantry = await createGrantry(config);
                try {
                  await bootstrap(grantry, log, toStderr);
                } finally {
                  await grantry.close();
                }
              },
              ready: (summary) => out.result({ ...summary, workers: config.workers }, () => []),
            });
          } finally {
            await metrics?.close();
          }
          return;
        }

        const server = await startServer(config, log, httpOptions);
        out.result(summaryOf(server, config), () => []); // startServer already printed the addresses
        const signal = await stopSignal;
        log(`Received ${signal}, shutting down...`);
        // A second signal while closing (e.g. a stuck connection) stops at once.
        const force = () => {
          process.stderr.write('grantry: forced exit\n');
          process.exit(1);
        };
        process.once('SIGINT', force);
        process.once('SIGTERM', force);
        await server.close();
        process.removeListener('SIGINT', force);
        process.removeListener('SIGTERM', force);
        log('Stopped.');
      }),
    );
}
