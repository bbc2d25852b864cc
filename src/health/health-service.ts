/** Whether the service can do its work: the database answers in time, and it is not draining. */
import type { Store } from '../store/store.js';

export interface HealthService {
  databaseUp(): Promise<boolean>;
  readiness(): Promise<'ready' | 'shutting_down' | 'database_unavailable'>;
  /** Called when shutdown starts: readiness turns 503 so load balancers stop sending traffic. */
  markShuttingDown(): void;
  isShuttingDown(): boolean;
}

export function createHealthService(store: Store, timeoutMs: number): HealthService {
  let shuttingDown = false;

  async function databaseUp(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([store.ping().then(() => true as const), timeout]);
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    databaseUp,
    async readiness() {
      if (shuttingDown) return 'shutting_down';
      return (await databaseUp()) ? 'ready' : 'database_unavailable';
    },
    markShuttingDown() {
      shuttingDown = true;
    },
    isShuttingDown: () => shuttingDown,
  };
}
