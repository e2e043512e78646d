import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { checkedDurationMs, formatDuration } from "./duration.js";
import { ConfigError, parseConfig } from "./load.js";
import { sampleConfig } from "./sample.js";

const minimal = () => ({
  homeserver: { serverName: "trust-a.test", url: "http://127.0.0.1:8008", adminAccessToken: "syt_aGFuZG92ZXItYWRtaW4_0123456789abcdefghij_0a1b2c" },
  appservice: { url: "http://127.0.0.1:9000", registrationFile: "/tmp/reg.yaml" },
  database: { url: "postgres://localhost/handover" },
  web: { publicUrl: "http://localhost:8090" },
});

function problemsOf(document: unknown, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(document, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("config", () => {
  it("fills defaults for a minimal config", () => {
    const config = parseConfig(minimal());
    expect(config.appservice.botLocalpart).toBe("handover");
    expect(config.web.port).toBe(8090);
    expect(config.access.sessionTtl).toBe(8 * 3_600_000);
    expect(config.logging.level).toBe("info");
  });

  it("names unknown keys with their full path", () => {
    const document = minimal() as Record<string, unknown>;
    (document.homeserver as Record<string, unknown>).adminToken = "x";
    document.extra = true;
    expect(problemsOf(document)).toEqual(expect.arrayContaining(["homeserver.adminToken: unknown key", "extra: unknown key"]));
  });

  it("reports every missing required section at once", () => {
    expect(problemsOf({}).map((p) => p.split(":")[0])).toEqual(["homeserver", "appservice", "database", "web"]);
  });

  it("rejects a role that does not exist and a malformed user ID", () => {
    const problems = problemsOf({ ...minimal(), access: { roles: { "@a:trust-a.test": "superuser", "not-a-user": "admin" } } });
    expect(problems.some((p) => p.startsWith("access.roles.@a:trust-a.test"))).toBe(true);
    expect(problems.some((p) => p.includes("expected a Matrix user ID"))).toBe(true);
  });

  it("applies env overrides with nested, snake-case names", () => {
    const config = parseConfig(minimal(), {
      HANDOVER__DATABASE__URL: "postgres://db/other",
      HANDOVER__HOMESERVER__ADMIN_ACCESS_TOKEN: "from-env",
      HANDOVER__WEB__PORT: "9999",
      UNRELATED: "x",
    });
    expect(config.database.url).toBe("postgres://db/other");
    expect(config.homeserver.adminAccessToken).toBe("from-env");
    expect(config.web.port).toBe(9999);
  });

  it("refuses roles from directory groups without a directory section, naming the key", () => {
    expect(problemsOf({ ...minimal(), access: { roleGroups: { "Information Governance": "ig-lead" } } })).toEqual([
      "access.roleGroups: roles from directory groups need a `directory` section with a source (LDAP, SCIM or CSV) that reports the groups",
    ]);
    expect(problemsOf({ ...minimal(), access: { roleGroups: { "IG Team": "overlord" } } })[0]).toMatch(/^access\.roleGroups\.IG Team: /);
  });

  it("rejects an env override for a key that does not exist, naming it", () => {
    expect(problemsOf(minimal(), { HANDOVER__WEB__PROT: "1" })).toEqual(["web.prot: unknown key"]);
  });

  it("ships a sample that is generated from the schema and is valid but for its placeholder secrets", () => {
    const committed = readFileSync(new URL("../../config.sample.yaml", import.meta.url), "utf8");
    expect(committed).toBe(sampleConfig());
    expect(problemsOf(parse(committed)).map((problem) => problem.split(":")[0])).toEqual([
      "homeserver.adminAccessToken",
      "database.url",
      "web.metricsToken",
      "directory.ldap.0.bindPassword",
      "directory.scim.bearerToken",
      "federation.keyEncryptionSecret",
      "records.patientLookup.auditKey",
      "e2ee.stateKey",
    ]);
  });

  it("will not take a transaction body limit below what Synapse can send", () => {
    const document = { ...minimal(), appservice: { ...minimal().appservice, maxBodyBytes: 5_000_000 } };
    expect(problemsOf(document)).toEqual(["appservice.maxBodyBytes: Too small: expected number to be >=16777216"]);
    expect(parseConfig(minimal()).appservice).toMatchObject({ maxBodyBytes: 32 * 1024 * 1024, maxEventBytes: 256 * 1024 });
  });

  it("`config check` refuses the sample's placeholder secrets and secrets shorter than 32 bytes, naming the key", () => {
    const strong = randomBytes(32).toString("hex");
    const document = {
      ...minimal(),
      web: { publicUrl: "https://handover.trust.example", metricsToken: "change-me" },
      federation: { organisation: { name: "Trust", odsCode: "RXX", contact: "it@trust.example" }, keyEncryptionSecret: "change-me-to-a-long-random-secret" },
      e2ee: { stateKey: "0123456789abcdef0123456789abcde" },
    };
    expect(problemsOf(document)).toEqual([
      "web.metricsToken: is a placeholder from the sample; generate a secret (e.g. `openssl rand -hex 32`)",
      "federation.keyEncryptionSecret: is a placeholder from the sample; generate a secret (e.g. `openssl rand -hex 32`)",
      "e2ee.stateKey: expected a long random secret of at least 32 bytes (e.g. `openssl rand -hex 32`)",
    ]);
    expect(problemsOf({ ...minimal(), database: { url: "postgres://handover:secret@postgres:5432/handover" } })).toEqual([
      "database.url: the password in this URL is a placeholder from the sample; generate one (e.g. `openssl rand -hex 32`)",
    ]);
    expect(problemsOf(minimal(), { HANDOVER__HOMESERVER__ADMIN_ACCESS_TOKEN: "syt_..." })).toEqual([
      "homeserver.adminAccessToken: is a placeholder from the sample; generate a secret (e.g. `openssl rand -hex 32`)",
    ]);
    const config = parseConfig({
      ...document,
      web: { publicUrl: "https://handover.trust.example", metricsToken: strong },
      federation: { ...document.federation, keyEncryptionSecret: strong },
      e2ee: { stateKey: strong },
    });
    expect(config.web.metricsToken).toBe(strong);
  });
});

describe("durations", () => {
  it("are read once, at load, into milliseconds, and the schema's defaults are read the same way", () => {
    const config = parseConfig({
      ...minimal(),
      access: { sessionTtl: "12h", signInLimits: { window: "90s" } },
      retention: { sweepInterval: "500ms", defaults: { clinical: { maxAge: "2w", deleteAfterFiling: null } } },
      directory: { removalWindow: "off", leavers: { grace: "14d" } },
    });
    expect(config.access).toMatchObject({ sessionTtl: 12 * 3_600_000, signInLimits: { window: 90_000 }, accountRecheck: 30_000 });
    expect(config.retention).toMatchObject({ sweepInterval: 500, purgeTimeout: 10 * 60_000 });
    expect(config.retention?.defaults.clinical).toEqual({
      maxAge: 14 * 86_400_000,
      deleteAfterFiling: null,
      allowUnfiledDeletion: false,
      minAge: 0,
      warnBefore: 3 * 86_400_000,
    });
    expect(config.retention?.defaults.operational).toMatchObject({ maxAge: 90 * 86_400_000, deleteAfterFiling: null });
    expect(config.directory).toMatchObject({ schedule: 5 * 60_000, removalWindow: 0, leavers: { grace: 14 * 86_400_000, action: "lock" } });
  });

  it("refuse a bare number, whose unit would be a guess: maxAge: 30 must not delete everything older than 30 ms", () => {
    expect(problemsOf({ ...minimal(), retention: { defaults: { operational: { maxAge: 30 } } } })).toEqual([
      "retention.defaults.operational.maxAge: expected a duration with its unit, such as 90s, 15m, 8h or 30d, not the bare number 30",
    ]);
    expect(problemsOf({ ...minimal(), retention: {} }, { HANDOVER__RETENTION__SWEEP_INTERVAL: "30000" })).toEqual([
      "retention.sweepInterval: expected a duration with its unit, such as 90s, 15m, 8h or 30d, not the bare number 30000",
    ]);
    expect(parseConfig(minimal(), { HANDOVER__ACCESS__SESSION_TTL: "4h" }).access.sessionTtl).toBe(4 * 3_600_000);
  });

  it("`config check` names the key of every bad duration and says what was written", () => {
    const problems = problemsOf({
      ...minimal(),
      database: { url: "postgres://localhost/handover", poolExhaustedAfter: "5 seconds" },
      access: { sessionTtl: "eight hours", signInLimits: { window: -1 } },
      retention: { purgeTimeout: "10", defaults: { operational: { maxAge: "1.5d" } } },
      directory: { removalWindow: "never", ldap: [{ ...ldapSource(), timeout: true }] },
      records: { patientLookup: { auditKey: "k".repeat(40) }, retryEvery: "30S" },
    });
    expect(problems).toEqual([
      'database.poolExhaustedAfter: expected a duration such as 90s, 15m, 8h or 30d, not "5 seconds"',
      'access.sessionTtl: expected a duration such as 90s, 15m, 8h or 30d, not "eight hours"',
      "access.signInLimits.window: expected a duration with its unit, such as 90s, 15m, 8h or 30d, not the bare number -1",
      "directory.removalWindow: expected off, or a duration such as 24h or 7d",
      "directory.ldap.0.timeout: expected a duration such as 90s, 15m, 8h or 30d",
      'retention.purgeTimeout: expected a duration such as 90s, 15m, 8h or 30d, not "10"',
      'retention.defaults.operational.maxAge: expected a duration such as 90s, 15m, 8h or 30d, not "1.5d"',
      'records.retryEvery: expected a duration such as 90s, 15m, 8h or 30d, not "30S"',
    ]);
  });

  it("keep their bounds, named with the key: account recheck at most 1m, audit anchors at least 1s, posture from 1m to 7d", () => {
    expect(problemsOf({ ...minimal(), access: { accountRecheck: "2m" } })).toEqual([
      "access.accountRecheck: expected at most 1m: a closed account's session must end within a minute",
    ]);
    expect(problemsOf({ ...minimal(), audit: { room: "!a:trust-a.test", signingKey: randomBytes(32).toString("base64"), anchorEvery: "500ms" } })).toEqual([
      "audit.anchorEvery: expected a duration of at least 1s (e.g. 15m, 1h)",
    ]);
    expect(problemsOf({ ...minimal(), devices: { posture: { interval: "8d" } } })).toEqual([
      "devices.posture.interval: expected a duration from 1m to 7d (e.g. 24h)",
    ]);
  });

  it("format back the way people write them, in days rather than weeks", () => {
    expect(formatDuration(86_400_000)).toBe("1d");
    expect(formatDuration(14 * 86_400_000)).toBe("14d");
    expect(formatDuration(90_000)).toBe("90s");
    expect(formatDuration(0)).toBe("0s");
    expect(formatDuration(1500)).toBe("1500ms");
    expect(checkedDurationMs("2w")).toBe(14 * 86_400_000);
    expect(() => checkedDurationMs("8 hours")).toThrow('not a duration: "8 hours"');
  });
});

function ldapSource() {
  return {
    name: "ad",
    url: "ldaps://dc1.trust.example",
    bindDn: "svc@trust.example",
    bindPassword: randomBytes(16).toString("hex"),
    userBase: "OU=Staff,DC=trust,DC=example",
    groupBase: "OU=Groups,DC=trust,DC=example",
  };
}
