/** `grantry start`: runs the server until SIGINT or SIGTERM. */
import type { Command } from 'commander';
import { loadCliConfig } from '../context.js';
import { action } from '../output.js';

export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description('start the HTTP server (migrates the database, creates the signing key and the first admin if missing)')
    .option('--json', 'print the listening addresses as one JSON object on stdout (log lines go to stderr)')
    .action(
      action(async (out, cmd) => {
        const config = loadCliConfig(cmd);
        // With --json the human-readable lines (including a generated admin password) go to stderr.
        const log = out.json ? (line: string) => process.stderr.write(`${line}\n`) : (line: string) => process.stdout.write(`${line}\n`);
        // Listen before starting, so a signal that arrives during start-up still closes cleanly.
        const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        // Loaded on demand, like the core in withGrantry(): other commands skip the HTTP stack.
        const { startServer } = await import('../../server.js');
        const server = await startServer(config, log);
        out.result(
          {
            url: server.url,
            public_url: config.publicUrl,
            sides: server.grantry.sides.all.map((side) => ({
              name: side.name,
              issuer: side.issuer,
              authorize_url: config.publicUrl + side.authorizePath,
              login_url: config.publicUrl + side.loginPath,
              api_url: config.publicUrl + side.apiPath,
            })),
          },
          () => [], // startServer already printed the addresses
        );
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
