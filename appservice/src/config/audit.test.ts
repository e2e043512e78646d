import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "./load.js";

const minimal = () => ({
  homeserver: { serverName: "trust-a.test", url: "http://127.0.0.1:8008", adminAccessToken: "syt_aGFuZG92ZXItYWRtaW4_0123456789abcdefghij_0a1b2c" },
  appservice: { url: "http://127.0.0.1:9000", registrationFile: "/tmp/reg.yaml" },
  database: { url: "postgres://localhost/handover" },
  web: { publicUrl: "http://localhost:8090" },
});

function problemsOf(document: unknown, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(document, env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

describe("config: audit anchors and the database pool", () => {
  it("takes the signing key from the environment and fills the defaults", () => {
    const key = randomBytes(32).toString("base64");
    const config = parseConfig({ ...minimal(), audit: { room: "!audit:trust-a.test" } }, { HANDOVER__AUDIT__SIGNING_KEY: key });
    expect(config.audit).toEqual({ room: "!audit:trust-a.test", anchorEvery: 15 * 60_000, signingKey: key });
    expect(config.database).toMatchObject({ poolSize: 10, poolExhaustedAfter: 5_000 });
  });

  it("names the key of a signing key that is not 32 bytes, a room that is not a room ID, and a bad syslog protocol", () => {
    const problems = problemsOf({
      ...minimal(),
      audit: { room: "#audit:trust-a.test", signingKey: randomBytes(16).toString("base64"), syslog: { host: "127.0.0.1", protocol: "http" } },
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        "audit.room: expected a room ID like !abc:trust.example",
        "audit.signingKey: expected 32 random bytes, base64 (openssl rand -base64 32)",
        expect.stringMatching(/^audit\.syslog\.protocol: /),
      ]),
    );
  });
});
