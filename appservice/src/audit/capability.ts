import type { Capability, CapabilityFactory } from "../capability.js";
import type { HandoverConfig } from "../config/schema.js";
import { AnchorCheck, AnchorPublisher, AnchorSigner, type AnchorSink } from "../domain/audit/anchor.js";
import { PostgresAuditStore } from "../storage/audit-store.js";
import { MatrixAuditRoom } from "./matrix-audit-room.js";
import { SyslogAnchorSink } from "./syslog-sink.js";

export const ANCHOR_JOB = "audit-anchor";

type AuditConfig = NonNullable<HandoverConfig["audit"]>;

/** Reads the anchors back and prepares the check `audit verify` runs the chain through. */
export async function anchorCheckFor(audit: AuditConfig, serverName: string, bot: ConstructorParameters<typeof MatrixAuditRoom>[0]): Promise<AnchorCheck> {
  const { anchors, deleted } = await new MatrixAuditRoom(bot, audit.room).readBack();
  return new AnchorCheck(anchors, new AnchorSigner(audit.signingKey), serverName, deleted);
}

/**
 * Anchors the audit trail's head outside PostgreSQL (config `audit`): a job, in one Handover
 * process at a time, posts a signed anchor to the audit room (and syslog) whenever the trail
 * has grown.
 */
export const auditAnchorCapability: CapabilityFactory = (platform): Capability => {
  const audit = platform.config.audit;
  if (!audit) return { name: "audit-anchor" };
  const sinks: AnchorSink[] = [new MatrixAuditRoom(platform.bot, audit.room)];
  if (audit.syslog) sinks.push(new SyslogAnchorSink(audit.syslog));
  const store = new PostgresAuditStore(platform.db);
  const publisher = new AnchorPublisher({
    head: () => store.head(),
    signer: new AnchorSigner(audit.signingKey),
    sinks,
    server: platform.config.homeserver.serverName,
    clock: platform.clock,
    onSinkFailed: (sink, error) => platform.logger.error({ err: error, sink }, "could not send the audit anchor to a copy"),
  });
  let lastAttemptFailed = false;
  return {
    name: "audit-anchor",
    async start(): Promise<void> {
      platform.jobs.register({ name: ANCHOR_JOB, intervalMs: audit.anchorEvery, runAtStart: true }, async () => {
        try {
          await publisher.anchorNow();
          lastAttemptFailed = false;
        } catch (error) {
          lastAttemptFailed = true;
          throw error;
        }
      });
    },
    async readiness(): Promise<Record<string, boolean>> {
      return { auditAnchor: !lastAttemptFailed };
    },
  };
};
