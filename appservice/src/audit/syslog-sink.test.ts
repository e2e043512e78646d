import { createSocket } from "node:dgram";
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import type { SignedAuditAnchor } from "../domain/audit/anchor.js";
import { SyslogAnchorSink, syslogMessage } from "./syslog-sink.js";

const anchor: SignedAuditAnchor = {
  seq: 42,
  hash: "a".repeat(64),
  at: "2026-12-05T21:00:00.000Z",
  server: "trust-a.test",
  keyId: "ed25519:0123456789abcdef",
  signature: "c2lnbmF0dXJl",
};

describe("syslog anchor sink (RFC 5424)", () => {
  it("formats the anchor as structured data with facility log audit, severity notice", () => {
    expect(syslogMessage(anchor, "handover-host")).toBe(
      `<109>1 2026-12-05T21:00:00.000Z handover-host handover ${process.pid} audit-anchor [handoverAuditAnchor@32473 seq="42" hash="${"a".repeat(64)}" at="2026-12-05T21:00:00.000Z" server="trust-a.test" keyId="ed25519:0123456789abcdef" signature="c2lnbmF0dXJl"] audit trail anchor: entry 42 hash ${"a".repeat(64)}`,
    );
  });

  it("sends over TCP with octet counting to a loopback listener", async () => {
    const received: Buffer[] = [];
    const done = new Promise<void>((resolve) => {
      const server = createServer((socket) => {
        socket.on("data", (chunk) => received.push(chunk));
        socket.on("end", () => {
          server.close();
          resolve();
        });
      });
      server.listen(0, "127.0.0.1", () => {
        const port = (server.address() as { port: number }).port;
        void new SyslogAnchorSink({ host: "127.0.0.1", port, protocol: "tcp" }).publish(anchor);
      });
    });
    await done;
    const frame = Buffer.concat(received).toString();
    const [length, ...rest] = frame.split(" ");
    expect(Number(length)).toBe(Buffer.byteLength(rest.join(" ")));
    expect(rest.join(" ")).toMatch(/^<109>1 .* seq="42" hash="a{64}"/);
  });

  it("sends over UDP to a loopback listener", async () => {
    const socket = createSocket("udp4");
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
    const message = new Promise<string>((resolve) => socket.once("message", (data) => resolve(data.toString())));
    await new SyslogAnchorSink({ host: "127.0.0.1", port: socket.address().port, protocol: "udp" }).publish(anchor);
    expect(await message).toMatch(/^<109>1 .* audit trail anchor: entry 42/);
    socket.close();
  });
});
