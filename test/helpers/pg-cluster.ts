/**
 * A throwaway PostgreSQL cluster for tests that must control the server itself (stop it,
 * start it again): initdb in a temporary folder, listening on 127.0.0.1 only, on a free port.
 *
 * initdb and postgres refuse to run as root, and tests here run as root, so as root every
 * binary runs as the `postgres` OS user (Debian's package creates it) through runuser, and the
 * folder belongs to that user. Run as anyone else, the binaries run as that user directly.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { freePort } from './server-process.js';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export interface PgCluster {
  /** Superuser URL (user postgres, database postgres) over TCP with a password. */
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** Starts the server and waits until it accepts connections. */
  start(): Promise<void>;
  /** Fast shutdown: open sessions are terminated, as when a server is stopped for maintenance. */
  stop(): Promise<void>;
  /** Stops the server if it runs and removes the folder. Safe to call more than once. */
  destroy(): Promise<void>;
}

async function postgresUser(): Promise<{ uid: number; gid: number } | null> {
  if (process.getuid?.() !== 0) return null;
  const [{ stdout: uid }, { stdout: gid }] = await Promise.all([
    exec('id', ['-u', 'postgres']),
    exec('id', ['-g', 'postgres']),
  ]);
  return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
}

export async function createPgCluster(binDir: string): Promise<PgCluster> {
  const owner = await postgresUser();
  const dir = await mkdtemp(path.join(tmpdir(), 'pg-cluster-'));
  const dataDir = path.join(dir, 'data');
  const logFile = path.join(dir, 'server.log');
  const pwFile = path.join(dir, 'pwfile');
  const password = randomBytes(18).toString('hex');
  const port = await freePort();
  let running = false;

  const run = async (bin: string, args: string[]): Promise<void> => {
    const file = path.join(binDir, bin);
    const [command, argv] = owner ? ['runuser', ['-u', 'postgres', '--', file, ...args]] : [file, args];
    try {
      // cwd: the postgres user may not be allowed into the caller's working folder.
      await exec(command, argv, { cwd: dir, timeout: 60_000 });
    } catch (error) {
      const log = await readFile(logFile, 'utf8').catch(() => '');
      throw new Error(`${bin} ${args.join(' ')} failed\n${log.slice(-2000)}`, { cause: error });
    }
  };

  try {
    await writeFile(pwFile, `${password}\n`, { mode: 0o600 });
    if (owner) {
      await chown(dir, owner.uid, owner.gid);
      await chown(pwFile, owner.uid, owner.gid);
    }
    await chmod(dir, 0o700);
    // Password auth over TCP, as a real server would ask; trust only on the Unix socket that
    // lives inside this private folder.
    await run('initdb', [
      '-D', dataDir, '-U', 'postgres', `--pwfile=${pwFile}`,
      '--auth-local=trust', '--auth-host=scram-sha-256',
      '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync',
    ]);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }

  const cluster: PgCluster = {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    port,
    dir,
    async start() {
      // fsync off: a test cluster is thrown away, and durability costs the suite seconds.
      const options = `-p ${port} -k '${dir}' -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
      await run('pg_ctl', ['-D', dataDir, '-l', logFile, '-o', options, '-w', '-t', '60', 'start']);
      running = true;
    },
    async stop() {
      await run('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', '-t', '60', 'stop']);
      running = false;
    },
    async destroy() {
      try {
        if (running) await cluster.stop();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
  return cluster;
}
