/**
 * The benchmark's flags (see the top of bench/run.js): parsed from argv, with environment
 * variables as defaults. Anything it does not understand stops the run with a clear message and
 * exit code 2, before any server starts.
 */
export const ALGORITHMS = ['ES256', 'RS256'];
export const DEFAULT_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';

export const USAGE = `Usage: npm run bench -- [options]   (or: node bench/run.js [options] after npm run build)

  --json                 one JSON document on stdout instead of the tables (progress goes to stderr)
  --db sqlite|postgres|both
                         databases to run Grantry on (default: both when PostgreSQL answers, else sqlite)
  --alg ES256,RS256      signing algorithms, comma-separated (default: ES256,RS256)
  --seconds N            seconds per load run (default 6; env BENCH_SECONDS)
  --connections N        autocannon connections (default 32; env BENCH_CONNECTIONS)
  --workers 1,2          also measure scaling: grantry start --workers N for each N (client_credentials, bearer GET)
  --growth               also run the workloads again with 1,000,000 stored grants, access and refresh tokens
  --growth-rows N        rows per token table for --growth (default 1000000; env BENCH_GROWTH_ROWS)
  --memory               also run a load at 80% of peak for --memory-seconds and sample the server's resident memory
  --memory-seconds N     length of the --memory run (default 300; env BENCH_MEMORY_SECONDS)
  --postgres-url URL     server to create the throwaway databases on (default ${DEFAULT_POSTGRES_URL}; env BENCH_POSTGRES_URL)
  --help                 this text

Environment: BENCH_SERVER_NODE_ARGS  flags for the node of each Grantry server, e.g. '--cpu-prof --cpu-prof-dir=prof'`;

export class UsageError extends Error {}

function wholeNumber(name, raw, min, max) {
  if (!/^\d+$/.test(String(raw ?? '').trim())) throw new UsageError(`${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw ?? '')}`);
  const n = Number(raw);
  if (n < min || n > max) throw new UsageError(`${name} must be from ${min} to ${max}, got ${n}`);
  return n;
}

/** Options from argv (without node and the script) and env. Throws UsageError. */
export function parseOptions(argv, env = process.env) {
  const options = {
    json: false,
    db: undefined,
    algorithms: [...ALGORITHMS],
    seconds: wholeNumber('BENCH_SECONDS', env.BENCH_SECONDS ?? '6', 1, 3600),
    connections: wholeNumber('BENCH_CONNECTIONS', env.BENCH_CONNECTIONS ?? '32', 1, 1000),
    workers: undefined,
    growth: false,
    growthRows: wholeNumber('BENCH_GROWTH_ROWS', env.BENCH_GROWTH_ROWS ?? '1000000', 1, 100_000_000),
    memory: false,
    memorySeconds: wholeNumber('BENCH_MEMORY_SECONDS', env.BENCH_MEMORY_SECONDS ?? '300', 10, 86400),
    postgresUrl: env.BENCH_POSTGRES_URL || DEFAULT_POSTGRES_URL,
    help: false,
  };
  const args = [...argv];
  while (args.length > 0) {
    const arg = args.shift();
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => {
      const v = inline ?? args.shift();
      if (v === undefined || (inline === undefined && v.startsWith('--'))) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--json':
        options.json = true;
        break;
      case '--growth':
        options.growth = true;
        break;
      case '--memory':
        options.memory = true;
        break;
      case '--help':
      case '-h':
        options.help = true;
        break;
      case '--db': {
        const v = value();
        if (!['sqlite', 'postgres', 'both'].includes(v)) throw new UsageError(`--db must be sqlite, postgres or both, got ${JSON.stringify(v)}`);
        options.db = v;
        break;
      }
      case '--alg': {
        const names = value().split(',').map((a) => a.trim()).filter(Boolean);
        const algorithms = names.map((name) => ALGORITHMS.find((a) => a.toLowerCase() === name.toLowerCase()) ?? name);
        const unknown = algorithms.filter((a) => !ALGORITHMS.includes(a));
        if (algorithms.length === 0 || unknown.length > 0) throw new UsageError(`--alg takes ${ALGORITHMS.join(' and/or ')}, comma-separated; got ${JSON.stringify(names.join(','))}`);
        options.algorithms = [...new Set(algorithms)];
        break;
      }
      case '--workers': {
        const counts = value().split(',').map((n) => wholeNumber('--workers', n, 1, 64));
        options.workers = [...new Set(counts)];
        break;
      }
      case '--seconds':
        options.seconds = wholeNumber('--seconds', value(), 1, 3600);
        break;
      case '--connections':
        options.connections = wholeNumber('--connections', value(), 1, 1000);
        break;
      case '--growth-rows':
        options.growthRows = wholeNumber('--growth-rows', value(), 1, 100_000_000);
        break;
      case '--memory-seconds':
        options.memorySeconds = wholeNumber('--memory-seconds', value(), 10, 86400);
        break;
      case '--postgres-url': {
        const v = value();
        if (!/^postgres(ql)?:\/\//.test(v)) throw new UsageError(`--postgres-url must be a postgres:// URL, got ${JSON.stringify(v)}`);
        options.postgresUrl = v;
        break;
      }
      default:
        throw new UsageError(`unknown option ${JSON.stringify(arg)}`);
    }
  }
  return options;
}
