// The `caracal` command tree. Commands are thin: they parse flags and call one run* function each.
import { Command, Option } from 'commander';
import { registerAgentCommands } from './commands/agent.js';
import { registerDelegationCommands } from './commands/delegation.js';
import { registerAppCommands } from './commands/admin/app.js';
import { registerApprovalCommands } from './commands/admin/approval.js';
import { registerAuditCommands } from './commands/admin/audit.js';
import { registerGrantCommands } from './commands/admin/grant.js';
import { registerResourceCommands } from './commands/admin/resource.js';
import { registerRevocationCommands } from './commands/admin/revocation.js';
import { registerSessionCommands } from './commands/admin/session.js';
import { registerTokenCommands } from './commands/admin/token.js';
import { registerZoneCommands } from './commands/admin/zone.js';
import { printDoctor, runDoctor } from './commands/doctor.js';
import { printDown, runDown } from './commands/down.js';
import { EVIDENCE_PACK_EXIT_HELP, EVIDENCE_VERIFY_EXIT_HELP, printEvidencePack, printEvidenceVerify, runEvidencePack, runEvidenceVerify } from './commands/evidence-pack.js';
import { CHECKS } from './evidence/checks/index.js';
import { printInit, runInit } from './commands/init.js';
import { nonNegativeInt, parsePort, type Io } from './commands/io.js';
import { intIn } from './admin/flags.js';
import { LOG_SOURCES, runLogs } from './commands/logs.js';
import { printMigrateStatus, printValidate, runMigrateStatus, runMigrateUp, runValidate } from './commands/migrate.js';
import { registerPolicyCommands } from './commands/policy.js';
import { printPurge, PURGE_TARGETS, runPurge } from './commands/purge.js';
import { printStatus, runStatus } from './commands/status.js';
import { printUp, runUp } from './commands/up.js';
import { printUpgrade, runUpgrade, UPGRADE_EXIT_HELP, withInterrupts } from './commands/upgrade.js';
import { printVerifyRelease, runVerifyRelease, VERIFY_RELEASE_EXIT_HELP } from './commands/verify-release.js';
import { EXIT_CODES_HELP } from './errors.js';
import { HELP_CONFIGURATION } from './help.js';
import { cliVersion } from './version.js';

export interface ProgramResult {
  /** Set by commands whose outcome is a verdict (status, doctor, validate). */
  exitCode: number;
}

export function buildProgram(io: Io, result: ProgramResult): Command {
  const program = new Command('caracal')
    .description('Caracal: the authority layer for AI agents. Operate the stack from one CLI.')
    .version(cliVersion(), '-V, --version', 'print the version')
    .showSuggestionAfterError(true)
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', EXIT_CODES_HELP)
    // Set before any subcommand is added: commander copies it to each one.
    .configureHelp(HELP_CONFIGURATION)
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) });

  program
    .command('init')
    .description('create $CARACAL_HOME, caracal.env and the secrets (idempotent)')
    .option('-y, --yes', 'non-interactive: accept defaults for everything not given as a flag')
    .addOption(new Option('--mode <mode>', 'dev or stable').choices(['dev', 'stable']))
    .addOption(new Option('--runtime <runtime>', 'local or compose').choices(['local', 'compose']))
    .option('--database-url-file <file>', 'use an external Postgres; file holds its admin URL (or set CARACAL_DATABASE_URL)')
    .option('--redis-url-file <file>', 'use an external Redis; file holds its URL (or set CARACAL_REDIS_URL)')
    .option('--issuer-url <url>', 'issuer URL of the STS')
    .option('--pg-port <port>', 'port of managed Postgres (default 55432)', parsePort('--pg-port'))
    .option('--redis-port <port>', 'port of managed Redis (default 56379)', parsePort('--redis-port'))
    .option('--port <service=port>', 'port of a service (repeatable), e.g. --port api=3000', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--redis-key-prefix <prefix>', 'prefix for every Redis key (to share one Redis)')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', EXIT_CODES_HELP)
    .action(async (opts) => printInit(await runInit(opts, io), io, opts.json));

  program
    .command('up')
    .description('initialise if needed, start the services held, start Postgres/Redis, migrate, release the services, wait until ready')
    .option('--no-install', 'never install missing Postgres/Redis packages; print the command instead')
    .option('--timeout <seconds>', 'readiness deadline (default 120)', nonNegativeInt('--timeout'))
    .option('--json', 'print endpoints as JSON')
    .addHelpText('after', EXIT_CODES_HELP)
    .action(async (opts) => printUp(await runUp(opts, io), io, opts.json));

  program
    .command('down')
    .description('stop services gracefully, then managed Redis and Postgres')
    .option('--volumes', 'also delete managed Postgres and Redis data (asks for confirmation)')
    .option('-y, --yes', 'confirm --volumes without a prompt')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', EXIT_CODES_HELP)
    .action(async (opts) => printDown(await runDown(opts, io), io, opts.json));

  program
    .command('status')
    .description('probe /health (or /ready) of every service; exit 0 iff all are ok')
    .option('--ready', 'probe /ready instead of /health')
    .option('--wait <seconds>', 'keep probing until all are ok or this many seconds pass', nonNegativeInt('--wait'))
    .option('--json', 'print the report as JSON')
    .addHelpText('after', EXIT_CODES_HELP)
    .action(async (opts) => {
      const r = await runStatus(opts, io);
      printStatus(r, io, opts.json);
      result.exitCode = r.ok ? 0 : 1;
    });

  program
    .command('logs')
    .description(`show service logs (${LOG_SOURCES.join(', ')})`)
    .argument('[service]', 'one service; all when omitted')
    .option('-f, --follow', 'keep printing new lines')
    .option('-n, --lines <n>', 'lines per log (default 100)', nonNegativeInt('--lines'))
    .addHelpText('after', EXIT_CODES_HELP)
    .action(async (service: string | undefined, opts) => runLogs(service, opts, io));

  const migrate = program.command('migrate').description('database migrations (expand/contract)').addHelpText('after', EXIT_CODES_HELP);
  migrate
    .command('status')
    .description('list migrations and whether each is applied')
    .option('--json', 'print as JSON')
    .action(async (opts) => printMigrateStatus(await runMigrateStatus(io), io, opts.json));
  migrate
    .command('up')
    .description('apply pending expand migrations (contract migrations are never applied by it)')
    .option('--json', 'print the result as JSON')
    .action(async (opts) => {
      const r = await runMigrateUp({}, io);
      if (opts.json) io.out.json(r);
      else io.out.data(`applied ${r.applied.length}, already applied ${r.skipped.length}, waiting for contract step ${r.pendingContract.length}`);
    });
  migrate
    .command('validate')
    .description('expand-only guard and checksum manifest; exits 1 on any violation')
    .option('--dir <dir>', 'migrations directory (default: the installed one)')
    .option('--json', 'print as JSON')
    .action((opts) => {
      const r = runValidate(opts.dir, io);
      printValidate(r, io, opts.json);
      result.exitCode = r.ok ? 0 : 1;
    });

  program
    .command('upgrade')
    .description('move the running stack to a verified release without a maintenance window: stage, expand migrations, roll services one at a time behind readiness (rolled back if one fails), contract migrations; journaled to upgrade.log')
    .option('--from <release>', 'release directory, or its caracal-<version>.tar.gz (default: the release of an unfinished upgrade)')
    .option('--key <file>', 'release public key (PEM, P-256); default the pinned installers/caracal-release.pub')
    .option('--ready-timeout <seconds>', 'readiness deadline of each service\'s new workers, 1-600 (default 60)', intIn('--ready-timeout', 1, 600))
    .option('-y, --yes', 'upgrade without a confirmation prompt (required off a terminal)')
    .option('--dry-run', 'print the plan (versions, migrations by phase, services) and change nothing')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', UPGRADE_EXIT_HELP)
    .action(async (opts) => printUpgrade(await withInterrupts(io, (interrupted) => runUpgrade(opts, io, interrupted)), io, opts.json));

  program
    .command('doctor')
    .description('preflight report: Node, Postgres/Redis, ports, Docker, file modes; exit 1 on any FAIL')
    .option('--json', 'print as JSON')
    .addHelpText('after', EXIT_CODES_HELP)
    .action(async (opts) => {
      const checks = await runDoctor(io);
      printDoctor(checks, io, opts.json);
      result.exitCode = checks.some((c) => c.level === 'fail') ? 1 : 0;
    });

  program
    .command('purge')
    .description(`remove ${PURGE_TARGETS.join(', ')} (default all); destructive targets need confirmation`)
    .argument('[targets...]', PURGE_TARGETS.join(' | '))
    .option('-y, --yes', 'confirm without a prompt')
    .option('--dry-run', 'show what would be removed and change nothing')
    .option('--json', 'print as JSON')
    .addHelpText('after', EXIT_CODES_HELP)
    .action(async (targets: string[], opts) => printPurge(await runPurge(targets, opts, io), io, opts.json));

  program
    .command('verify-release')
    .description('verify a release offline (SHA256SUMS, digests, signatures, provenance, SBOM, manifest) or, with --installed, this installation; exit 1 names the first failure')
    .argument('[release]', 'release directory, or its caracal-<version>.tar.gz')
    .option('--installed', 'check the installation this CLI runs from against its install receipt')
    .option('--key <file>', 'release public key (PEM, P-256); default the pinned installers/caracal-release.pub')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', VERIFY_RELEASE_EXIT_HELP)
    .action(async (target: string | undefined, opts) => {
      const r = await runVerifyRelease(target, opts, io);
      printVerifyRelease(r, io, opts.json);
      result.exitCode = r.ok ? 0 : 1;
    });

  const evidence = program
    .command('evidence-pack')
    .description('run every evidence check read-only against the stack and write a signed pack (REPORT.md, raw/, junit, manifest, signature) and its deterministic .tar.gz; exit 1 when a check FAILs')
    .option('--out <dir>', 'pack directory to create (must not exist, nor <dir>.tar.gz); default ./caracal-evidence-<UTC>')
    .option('--previous <pack>', 'an earlier pack (directory or .tar.gz) of this installation: each zone\'s audit chain must extend its heads')
    .option('--json', 'print a summary (path, archive, checks, exit) as JSON')
    .addHelpText('after', EVIDENCE_PACK_EXIT_HELP)
    .action(async (opts) => {
      const s = await runEvidencePack(opts, io, CHECKS);
      printEvidencePack(s, io, opts.json);
      result.exitCode = s.exit;
    });
  evidence
    .command('verify')
    .description('verify an evidence pack offline: every digest and the manifest signature; names every file added, removed, renamed or altered')
    .argument('<pack>', 'pack directory, or its .tar.gz')
    .option('--key <file>', 'the installation\'s evidence public key (PEM, P-256); default the pack\'s own evidence-key.pub.pem')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', EVIDENCE_VERIFY_EXIT_HELP)
    .action(async (target: string, opts, cmd: Command) => {
      const r = await runEvidenceVerify(target, opts);
      // `--json` after `verify` is parsed by `evidence-pack`, which has the same flag: either asks for JSON.
      printEvidenceVerify(r, io, cmd.optsWithGlobals().json);
      result.exitCode = r.ok ? 0 : 1;
    });

  // Admin operations against the API (R-API-1), one group per object.
  for (const register of [registerZoneCommands, registerAppCommands, registerResourceCommands, registerGrantCommands, registerSessionCommands, registerRevocationCommands, registerApprovalCommands, registerTokenCommands, registerAgentCommands, registerDelegationCommands]) {
    register(program, io);
  }
  registerAuditCommands(program, io, result);
  registerPolicyCommands(program, io, result);

  return program;
}
