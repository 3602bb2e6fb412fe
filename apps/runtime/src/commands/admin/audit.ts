// `caracal audit verify|search|export|dlq`: the zone ledgers and the admin chain through the API (R-AUD-3,
// R-AUD-4, R-AUD-5). verify and dlq replay are verdicts: their outcome sets the exit code.
import { Option, type Command } from 'commander';
import type { AdminChainReport } from '@caracal/db';
import { EXPORT_FORMATS, type ExportFormat } from '@caracal/ledger';
import { group, type JsonOpt } from '../../admin/define.js';
import { intIn, repeatable, zoneRef } from '../../admin/flags.js';
import { EXIT_CODES_HELP, UsageError } from '../../errors.js';
import type { ProgramResult } from '../../program.js';
import type { Io } from '../io.js';
import { printDlqPage, printReplay, runDlqList, runDlqReplay } from './audit-dlq.js';
import { printExport, runAuditExport } from './audit-export.js';
import { adminAction, auditType, cursor, isoTime, requestId, streamId } from './audit-flags.js';
import { printAdminEventPage, printAdminVerification, runAdminSearch } from './audit-admin.js';
import { printEventPage, runAuditSearch, type SearchOptions } from './audit-search.js';
import { printZoneVerification, runAuditVerify, type ZoneVerification } from './audit-verify.js';

/** A leaf whose --json prints `what` instead of lines or a table; `notes` come before the exit codes. */
function auditLeaf(parent: Command, name: string, description: string, what: string, notes = ''): Command {
  return parent.command(name).description(description).option('--json', `print ${what} as JSON`).addHelpText('after', `${notes}${EXIT_CODES_HELP}`);
}

const EXPORT_HELP = `
Writes, per zone, caracal-audit-<zone_id>-<from>-<to>.<format> and a .manifest.json with each file's SHA-256.
Nothing is written when any of these files already exists (exit 1).`;

export function registerAuditCommands(program: Command, io: Io, result: ProgramResult): void {
  const audit = group(program, 'audit', 'the audit ledger: verify chains, search events, export ranges, inspect and replay the DLQ');

  auditLeaf(audit, 'verify', 'verify the hash chain of one zone (or every zone and the admin chain) against the published head; exits 1 on any break', 'the reports')
    .option('--zone <zone>', 'zone id or slug (default: every zone, then the admin chain)', zoneRef)
    .action(async (opts: JsonOpt & { zone?: string }) => {
      const hooks = { onZone: (z: ZoneVerification) => printZoneVerification(z, io), onAdmin: (a: AdminChainReport) => printAdminVerification(a, io) };
      const r = await runAuditVerify(opts, io, opts.json ? {} : hooks);
      if (opts.json) io.out.json(r);
      result.exitCode = r.ok ? 0 : 1;
    });

  auditLeaf(audit, 'search', "one page of a zone's events (or with --admin, of the admin chain) in chain order; the next page's cursor is printed on stderr", "the API's page")
    .option('--zone <zone>', 'zone id or slug (required without --admin; with --admin, only changes to this zone)', zoneRef)
    .option('--admin', 'search the admin chain (changes made through the API) instead of a zone ledger')
    .option('--action <action>', 'with --admin: only this action, e.g. resource.create', adminAction)
    .option('--from <time>', 'events that occurred at or after this ISO 8601 time', isoTime('--from'))
    .option('--to <time>', 'events that occurred before this ISO 8601 time', isoTime('--to'))
    .addOption(new Option('--decision <decision>', 'only allow or only deny decisions').choices(['allow', 'deny']))
    .option('--request-id <id>', 'only events of this request id', requestId)
    .option('--type <type>', 'only events of this type, e.g. token.issued', auditType)
    .option('--limit <n>', 'rows per page, 1-1000 (default 100)', intIn('--limit', 1, 1000))
    .option('--cursor <cursor>', 'continue after the previous page (its printed cursor)', cursor)
    .action(async (opts: SearchOptions & { admin?: boolean; action?: string }) => {
      if (opts.admin) {
        const zoneOnly = (['decision', 'requestId', 'type'] as const).find((k) => opts[k] !== undefined);
        if (zoneOnly) throw new UsageError(`--${zoneOnly === 'requestId' ? 'request-id' : zoneOnly} applies to zone ledgers, not to --admin`);
        return printAdminEventPage(await runAdminSearch(opts, io), io, opts.json);
      }
      if (opts.action !== undefined) throw new UsageError('--action needs --admin');
      if (opts.zone === undefined) throw new UsageError("required option '--zone <zone>' not specified (or give --admin)");
      return printEventPage(await runAuditSearch(opts, io), io, opts.json);
    });

  auditLeaf(audit, 'export', "write a time range of each zone's events to files with content hashes", 'the manifests', EXPORT_HELP)
    .requiredOption('--from <time>', 'start of the range (inclusive), ISO 8601', isoTime('--from'))
    .requiredOption('--to <time>', 'end of the range (exclusive), ISO 8601', isoTime('--to'))
    .addOption(new Option('--format <format>', 'file format').choices(EXPORT_FORMATS).makeOptionMandatory())
    .requiredOption('--out <dir>', 'directory to write into (created if missing)')
    .option('--zone <zone>', 'zone id or slug (default: every zone)', zoneRef)
    .action(async (opts: JsonOpt & { from: string; to: string; format: ExportFormat; out: string; zone?: string }) => printExport(await runAuditExport(opts, io), io, opts.json));

  const dlq = group(audit, 'dlq', 'the audit dead-letter queue: list, replay (global admin token)');
  auditLeaf(dlq, 'list', 'list dead-lettered audit messages, oldest first, with their reasons', "the API's page")
    .option('--limit <n>', 'entries per page, 1-500 (default 100)', intIn('--limit', 1, 500))
    .option('--cursor <cursor>', 'continue after the previous page (its printed cursor)', cursor)
    .action(async (opts: JsonOpt & { limit?: number; cursor?: string }) => printDlqPage(await runDlqList(opts, io), io, opts.json));
  auditLeaf(dlq, 'replay', 'put entries back on the audit stream; exits 1 when any entry was skipped', 'the outcome')
    .option('--id <id...>', 'DLQ entry id (repeatable, at most 500)', repeatable(streamId))
    .option('--all', 'every entry in the DLQ when the replay starts')
    .action(async (opts: JsonOpt & { id?: string[]; all?: boolean }) => {
      const r = await runDlqReplay(opts, io);
      printReplay(r, io, opts.json);
      result.exitCode = r.skipped.length === 0 ? 0 : 1;
    });
  // The entry point makes commander throw instead of exiting for two levels of commands; these sit on a third.
  for (const leaf of dlq.commands) leaf.exitOverride();
}
