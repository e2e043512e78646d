/**
 * The init service's first-run step (deploy/init/first-run.ts). The key formats and the HMAC
 * are checked against what Synapse expects; setup() runs on temporary directories with a
 * stand-in for `handover generate-registration`, so it needs no build and no Docker.
 */
import { createPrivateKey, createPublicKey, sign, verify } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  HANDOVER_OWNER,
  InitError,
  type InitPaths,
  inSynapseVolume,
  readSettings,
  registrationMac,
  SYNAPSE_OWNER,
  setup,
  synapseSigningKey,
  TEMPLATE_SERVER_NAME,
} from "../../deploy/init/first-run.js";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const templates = { handoverConfig: join(repo, "deploy/handover/config.yaml"), synapseConfig: join(repo, "deploy/synapse/homeserver.yaml") };

describe("synapseSigningKey", () => {
  it("writes Synapse's format: algorithm, key id, unpadded base64 of a 32-byte ed25519 seed that signs", () => {
    const line = synapseSigningKey();
    const match = /^ed25519 (a_[A-Za-z0-9]{4}) ([A-Za-z0-9+/]{43})\n$/.exec(line);
    expect(match).not.toBeNull();
    const seed = Buffer.from(match?.[2] ?? "", "base64");
    expect(seed).toHaveLength(32);
    // PKCS#8 wrapping of a raw ed25519 seed (RFC 8410).
    const key = createPrivateKey({ key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]), format: "der", type: "pkcs8" });
    const signature = sign(null, Buffer.from("event"), key);
    expect(verify(null, Buffer.from("event"), createPublicKey(key), signature)).toBe(true);
    expect(synapseSigningKey()).not.toBe(line);
  });
});

describe("registrationMac", () => {
  it("matches register_new_matrix_user's HMAC-SHA1 (vector computed with Python's hmac)", () => {
    expect(registrationMac("shared-secret", "nonce-123", "handover-admin", "pa55word", true)).toBe("b06f7fc1bf236c3c4df7c8a61f0652ff5a78ea79");
    expect(registrationMac("shared-secret", "nonce-123", "handover-admin", "pa55word", false)).not.toBe("b06f7fc1bf236c3c4df7c8a61f0652ff5a78ea79");
  });
});

describe("inSynapseVolume", () => {
  it("maps Synapse's /data into the init container's mount", () => {
    expect(inSynapseVolume("/data/keys/signing.key", "/synapse-data", "signing_key_path")).toBe("/synapse-data/keys/signing.key");
  });

  it("refuses paths outside the volume, including ones that climb out of it", () => {
    expect(() => inSynapseVolume("/config/signing.key", "/synapse-data", "signing_key_path")).toThrow(/signing_key_path.*outside/);
    expect(() => inSynapseVolume("/data/../etc/passwd", "/synapse-data", "form_secret_path")).toThrow(InitError);
  });
});

describe("readSettings on the shipped templates", () => {
  it("finds the server name, the registration and every secret path", () => {
    const settings = readSettings({ ...templates, synapseData: "/synapse-data", cli: "unused" });
    expect(settings).toEqual({
      serverName: TEMPLATE_SERVER_NAME,
      homeserverUrl: "http://synapse:8008",
      registrationFile: "/data/handover-registration.yaml",
      synapseRegistrationFile: "/synapse-data/handover-registration.yaml",
      synapseSecrets: {
        signing_key_path: "/synapse-data/keys/signing.key",
        registration_shared_secret_path: "/synapse-data/keys/registration_shared_secret",
        macaroon_secret_key_path: "/synapse-data/keys/macaroon_secret_key",
        form_secret_path: "/synapse-data/keys/form_secret",
      },
    });
  });

  it("refuses to set up the templates' example server name, before touching anything", () => {
    expect(() => setup({ ...templates, synapseData: "/nonexistent", cli: "unused" }, { log: () => {} })).toThrow(/still the template's matrix\.trust\.example/);
  });
});

describe("setup", () => {
  let work: string | undefined;
  afterEach(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** The two configs with the registration redirected into a temporary "Handover volume". */
  function workspace(): InitPaths & { handoverData: string; log: string[] } {
    work = mkdtempSync(join(tmpdir(), "handover-init-"));
    const handoverData = join(work, "handover-data");
    const synapseData = join(work, "synapse-data");
    mkdirSync(handoverData);
    mkdirSync(synapseData);
    const serverName = "matrix.setup-test.example.org";
    const handoverConfig = join(work, "config.yaml");
    writeFileSync(
      handoverConfig,
      readFileSync(templates.handoverConfig, "utf8")
        .replaceAll(TEMPLATE_SERVER_NAME, serverName)
        .replace("/data/handover-registration.yaml", join(handoverData, "handover-registration.yaml")),
    );
    const synapseConfig = join(work, "homeserver.yaml");
    writeFileSync(synapseConfig, readFileSync(templates.synapseConfig, "utf8").replaceAll(TEMPLATE_SERVER_NAME, serverName));
    // Stands in for `handover generate-registration --config FILE [--force]`.
    const cli = join(work, "fake-cli.mjs");
    writeFileSync(
      cli,
      `import { writeFileSync } from "node:fs";
       const [command, , config, force] = process.argv.slice(2);
       if (command !== "generate-registration" || !config) process.exit(3);
       if (!process.env.HANDOVER__HOMESERVER__ADMIN_ACCESS_TOKEN) process.exit(4);
       writeFileSync(${JSON.stringify(join(handoverData, "handover-registration.yaml"))},
         "as_token: " + Math.random() + "\\nhs_token: x\\nsender_localpart: handover\\n", { flag: force ? "w" : "wx", mode: 0o600 });`,
    );
    return { handoverConfig, synapseConfig, synapseData, cli, handoverData, log: [] };
  }

  const asRoot = process.getuid?.() === 0;

  it.skipIf(!asRoot)("writes Synapse's secrets and both registration copies, owned by each service's user", () => {
    const paths = workspace();
    setup(paths, { env: {}, log: (line) => paths.log.push(line) });
    const keys = join(paths.synapseData, "keys");
    for (const file of ["signing.key", "registration_shared_secret", "macaroon_secret_key", "form_secret"]) {
      const stat = statSync(join(keys, file));
      expect({ uid: stat.uid, gid: stat.gid, mode: stat.mode & 0o777 }, file).toEqual({ ...SYNAPSE_OWNER, mode: 0o600 });
    }
    expect(readFileSync(join(keys, "signing.key"), "utf8")).toMatch(/^ed25519 a_/);
    const handoverCopy = readFileSync(join(paths.handoverData, "handover-registration.yaml"), "utf8");
    expect(readFileSync(join(paths.synapseData, "handover-registration.yaml"), "utf8")).toBe(handoverCopy);
    expect(parse(handoverCopy)).toHaveProperty("as_token");
    expect(statSync(join(paths.handoverData, "handover-registration.yaml")).uid).toBe(HANDOVER_OWNER.uid);
    expect(statSync(join(paths.synapseData, "handover-registration.yaml")).uid).toBe(SYNAPSE_OWNER.uid);
    expect(statSync(paths.synapseData).uid).toBe(SYNAPSE_OWNER.uid);
  });

  it.skipIf(!asRoot)("keeps every secret on a second run, and replaces the tokens only when asked", () => {
    const paths = workspace();
    setup(paths, { env: {}, log: () => {} });
    const signingKey = readFileSync(join(paths.synapseData, "keys/signing.key"), "utf8");
    const registration = readFileSync(join(paths.handoverData, "handover-registration.yaml"), "utf8");

    setup(paths, { env: {}, log: (line) => paths.log.push(line) });
    expect(paths.log.every((line) => line.startsWith("kept"))).toBe(true);
    expect(readFileSync(join(paths.synapseData, "keys/signing.key"), "utf8")).toBe(signingKey);
    expect(readFileSync(join(paths.handoverData, "handover-registration.yaml"), "utf8")).toBe(registration);

    setup(paths, { env: {}, rotateRegistration: true, log: () => {} });
    const rotated = readFileSync(join(paths.handoverData, "handover-registration.yaml"), "utf8");
    expect(rotated).not.toBe(registration);
    expect(readFileSync(join(paths.synapseData, "handover-registration.yaml"), "utf8")).toBe(rotated);
    expect(readFileSync(join(paths.synapseData, "keys/signing.key"), "utf8")).toBe(signingKey);
  });

  it("refuses configs that disagree on the server name", () => {
    const paths = workspace();
    writeFileSync(paths.synapseConfig, readFileSync(paths.synapseConfig, "utf8").replace(/^server_name: .*$/m, 'server_name: "other.example.org"'));
    expect(() => readSettings(paths)).toThrow(/server names differ/);
  });
});
