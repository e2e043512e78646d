import { createSocket } from "node:dgram";
import { connect } from "node:net";
import { hostname } from "node:os";
import type { AnchorSink, SignedAuditAnchor } from "../domain/audit/anchor.js";

export interface SyslogTarget {
  host: string;
  port: number;
  protocol: "udp" | "tcp";
}

// Facility 13 ("log audit") at severity 5 ("notice").
const PRIORITY = 13 * 8 + 5;
// 32473 is the enterprise number RFC 5612 reserves for examples; a trust's SIEM matches on the SD-ID.
const SD_ID = "handoverAuditAnchor@32473";

const sdValue = (value: string | number) => String(value).replace(/["\\\]]/g, (c) => `\\${c}`);

/** One RFC 5424 message for an anchor: the anchor's fields as structured data, and a line for people. */
export function syslogMessage(anchor: SignedAuditAnchor, host = hostname()): string {
  const params = (["seq", "hash", "at", "server", "keyId", "signature"] as const).map((key) => `${key}="${sdValue(anchor[key])}"`).join(" ");
  return `<${PRIORITY}>1 ${anchor.at} ${host || "-"} handover ${process.pid} audit-anchor [${SD_ID} ${params}] audit trail anchor: entry ${anchor.seq} hash ${anchor.hash}`;
}

/** Sends each anchor to syslog too (e.g. the trust's SIEM): a second copy outside PostgreSQL. */
export class SyslogAnchorSink implements AnchorSink {
  readonly name = "syslog";

  constructor(private readonly target: SyslogTarget) {}

  publish(anchor: SignedAuditAnchor): Promise<void> {
    const message = Buffer.from(syslogMessage(anchor));
    return this.target.protocol === "udp" ? this.sendUdp(message) : this.sendTcp(message);
  }

  private sendUdp(message: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = createSocket(this.target.host.includes(":") ? "udp6" : "udp4");
      socket.send(message, this.target.port, this.target.host, (error) => {
        socket.close();
        if (error) reject(error);
        else resolve();
      });
    });
  }

  /** Octet counting (RFC 6587): the length, a space, the message. */
  private sendTcp(message: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: this.target.host, port: this.target.port }, () => {
        socket.end(Buffer.concat([Buffer.from(`${message.length} `), message]), () => resolve());
      });
      socket.setTimeout(10_000, () => socket.destroy(new Error("syslog receiver did not answer within 10s")));
      socket.once("error", reject);
    });
  }
}
