import { flag, stringOption, UsageError } from '../args';
import { CONNECTION_HELP, type Command } from '../command';
import { ExitCode } from '../exit-codes';

/**
 * `tokenpool revoke`: end someone's lease now (ADMIN). The holder's next heartbeat learns it,
 * and a `tokenpool run` holding it stops its command and exits 75.
 */
export const revokeCommand: Command = {
  name: 'revoke',
  summary: "end a lease now (ADMIN); the holder's command is stopped",
  help: `Usage: tokenpool revoke <lease id> [--reason <text>] [--json]

Revokes an active lease (ADMIN keys only; others exit 77). Its credits are free at once; the
holder learns it at its next heartbeat (a \`tokenpool run\` then stops its command and exits 75).
Revoking a lease that has already ended changes nothing.

Options:
  --reason <text>    why, recorded with the lease and in the audit log
  --json             print the lease as JSON

${CONNECTION_HELP}`,
  options: { reason: { type: 'string' }, json: { type: 'boolean' } },
  maxPositionals: 1,
  async run(parsed, context) {
    const leaseId = parsed.positionals[0];
    if (!leaseId) throw new UsageError('missing the lease id (see `tokenpool leases`)', 'revoke');
    const lease = await context.client().revokeLease(leaseId, stringOption(parsed, 'reason'));
    if (flag(parsed, 'json')) context.io.stdout.write(`${JSON.stringify(lease, null, 2)}\n`);
    else context.io.stdout.write(`Lease ${lease.id}: ${lease.state}\n`);
    return ExitCode.OK;
  },
};
