// What the supervisor records about itself, each service and each worker: the `status` reply of the control
// socket, `data/supervisor.json`, and the adoption file a successor supervisor starts from.

export type WorkerStatus = 'starting' | 'ready' | 'draining' | 'backoff';

export interface ExitRecord {
  code: number | null;
  signal: string | null;
  at: string;
}

export interface WorkerState {
  /** Null while the worker waits out its restart backoff. */
  pid: number | null;
  /** `CARACAL_INSTANCE_ID` of the process: `<service>-<version>-<supervisor pid>-<n>`. */
  instance: string;
  status: WorkerStatus;
  startedAt: string | null;
  restarts: number;
  lastExit: ExitRecord | null;
}

export interface ServiceState {
  version: string;
  /** Install root the service's workers run from. */
  root: string;
  /** Workers the service runs (CARACAL_<SERVICE>_WORKERS); during a roll the list also holds the new or old ones. */
  desired: number;
  workers: WorkerState[];
  /** Crash restarts of the service's workers, and the last unexpected exit. */
  restarts: number;
  lastExit: ExitRecord | null;
}

export interface SupervisorState {
  pid: number;
  startedAt: string;
  /** Version and install root of the supervisor's own code. */
  version: string;
  root: string;
  /** Present while the supervisor holds its workers' start (started by `caracal up`, which releases it once migrated). */
  held?: true;
  services: Record<string, ServiceState>;
}
