import { z } from "zod";
import { duration } from "./duration.js";

/** The `audit` section of the config (issue 12.5): where the audit trail's head is anchored. Imported by schema.ts. */
export const auditSchema = z
  .strictObject({
    room: z
      .string()
      // Room IDs of room version 12 have no server part, so only the leading "!" is required.
      .regex(/^!\S+$/, { message: "expected a room ID like !abc:trust.example" })
      .describe(
        "The audit room: a room on the trust's own server, not encrypted, that the bot is invited to. Handover posts a signed anchor of the audit trail's head there; `handover audit verify` reads them back.",
      )
      .meta({ examples: ["!AuditRoomId:matrix.trust.nhs.uk"] }),
    anchorEvery: duration()
      .refine((ms) => ms >= 1_000, { message: "expected a duration of at least 1s (e.g. 15m, 1h)" })
      .prefault("15m")
      .describe("How often the head is anchored (only when the trail has grown since the last anchor). Also once at start.")
      .meta({ examples: ["15m"] }),
    signingKey: z
      .string()
      .refine((text) => /^[A-Za-z0-9+/]+={0,2}$/.test(text) && Buffer.from(text, "base64").length === 32, {
        message: "expected 32 random bytes, base64 (openssl rand -base64 32)",
      })
      .describe(
        "Ed25519 key (its 32-byte seed, base64) that signs the anchors (make one with openssl rand -base64 32; the example is not a key to use). Keep it out of the database and its backups. Env: HANDOVER__AUDIT__SIGNING_KEY.",
      )
      .meta({ examples: ["RVhBTVBMRSBPTkxZOiByZXBsYWNlIHRoaXMga2V5ISE="] }),
    syslog: z
      .strictObject({
        host: z
          .string()
          .min(1)
          .describe("Syslog receiver (the trust's SIEM collector).")
          .meta({ examples: ["127.0.0.1"] }),
        port: z.number().int().min(1).max(65535).default(514).describe("Its port."),
        protocol: z.enum(["udp", "tcp"]).default("udp").describe("RFC 5424 over UDP (RFC 5426) or TCP with octet counting (RFC 6587)."),
      })
      .optional()
      .describe("Also send every anchor to syslog (RFC 5424), e.g. to the trust's SIEM. Leave out for the audit room only."),
  })
  .describe("Anchoring the audit trail's head outside PostgreSQL. Leave out to keep the hash chain only (docs/security.md says what that leaves open).");
