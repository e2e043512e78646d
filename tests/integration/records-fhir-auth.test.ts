import { generateKeyPairSync, type JsonWebKey, randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DocumentReference, Patient } from "@medplum/fhirtypes";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Handover } from "../../appservice/src/app.js";
import { API } from "../../appservice/src/http/contract.js";
import { SmartBackendAuth } from "../../appservice/src/records/smart-backend-auth.js";
import { startFhirServer, type TestFhirServer } from "../harness/fhir-server.js";
import { freshDatabase } from "../support/fresh-database.js";
import { startHandover } from "../support/handover-instance.js";
import { eventually, TestUser } from "../support/matrix-user.js";
import { PortalSession } from "../support/portal-session.js";
import { CLINICAL_ROOM, RecordsRoom } from "../support/records-room.js";

const stack = inject("stack");
const NHS = "https://fhir.nhs.uk/Id/nhs-number";
const CLIENT_ID = "handover-trust-a";
const secrets = mkdtempSync(join(tmpdir(), "handover-fhir-auth-"));

/** A key pair as a trust would register it: the private half in a PEM file, the public half as a JWK with a kid. */
function clientKey(kind: "rsa" | "ec", kid: string): { pemFile: string; pem: string; jwk: JsonWebKey & { kid: string } } {
  const { privateKey, publicKey } = kind === "rsa" ? generateKeyPairSync("rsa", { modulusLength: 2048 }) : generateKeyPairSync("ec", { namedCurve: "P-384" });
  const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const pemFile = join(secrets, `${kid}-${randomUUID()}.pem`);
  writeFileSync(pemFile, pem, { mode: 0o600 });
  return { pemFile, pem, jwk: { ...publicKey.export({ format: "jwk" }), kid } };
}

const registered = clientKey("rsa", "handover-1");
const unrelated = clientKey("rsa", "handover-1");

let fhir: TestFhirServer;
let handover: Handover;
let alice: TestUser;
let room: RecordsRoom;
let db: pg.Client;

async function documentsFor(server: TestFhirServer, nhsNumber: string): Promise<DocumentReference[]> {
  return server.search<DocumentReference>("DocumentReference", { "subject:identifier": `${NHS}|${nhsNumber}` });
}

const filedRanges = async () => (await db.query("SELECT count(*)::int AS n FROM filed_ranges WHERE room_id = $1", [room.roomId])).rows[0].n as number;

const assertionFrom = (options: { pem?: string; algorithm?: "RS384" | "ES384"; keyId?: string; tokenUrl?: string; now?: () => number } = {}) =>
  new SmartBackendAuth(
    {
      tokenUrl: options.tokenUrl ?? (fhir.tokenUrl as string),
      clientId: CLIENT_ID,
      privateKeyPem: options.pem ?? registered.pem,
      keyId: options.keyId ?? "handover-1",
      algorithm: options.algorithm ?? "RS384",
      scope: "system/DocumentReference.write",
      timeoutMs: 10_000,
    },
    options.now,
  );

async function tokenRequest(assertion: string): Promise<{ status: number; body: { access_token?: string; error?: string; error_description?: string } }> {
  const response = await fetch(fhir.tokenUrl as string, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "client_credentials",
      client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
      client_assertion: assertion,
    }),
  });
  return { status: response.status, body: (await response.json()) as { access_token?: string; error?: string } };
}

beforeAll(async () => {
  const trust = stack.trusts.a;
  const databaseUrl = await freshDatabase(stack.databaseUrls.a, "records_fhir_auth");
  fhir = await startFhirServer({ oauth: { clientId: CLIENT_ID, jwks: { keys: [registered.jwk] }, tokenLifetimeSeconds: 300 } });
  await fhir.repo.createResource<Patient>({
    resourceType: "Patient",
    identifier: [{ system: NHS, value: "9434765919" }],
    name: [{ use: "official", family: "Smith", given: ["Jane"] }],
    birthDate: "1980-01-02",
  });
  alice = await TestUser.register(trust, `rec-oauth${Date.now()}`);
  handover = await startHandover(trust, databaseUrl, {
    roles: { [alice.userId]: "admin" },
    records: {
      destination: "fhir",
      fhir: {
        baseUrl: fhir.baseUrl,
        auth: "client-credentials",
        tokenUrl: fhir.tokenUrl as string,
        clientId: CLIENT_ID,
        privateKeyFile: registered.pemFile,
        keyId: "handover-1",
        signingAlgorithm: "RS384",
      },
      retryEvery: "1s",
      retryInitialDelay: "1s",
      retryMaxDelay: "2s",
      attemptLease: "5s",
    },
  });
  db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  const roomId = await alice.createRoom("Ward 7 SMART", CLINICAL_ROOM);
  room = new RecordsRoom(roomId, alice, () => handover);
  await alice.invite(roomId, handover.botUserId);
  await eventually("the bot to join", async () => (await alice.members(roomId))[handover.botUserId] === "join");
});

afterAll(async () => {
  await handover?.stop();
  await db?.end();
  await fhir?.stop();
});

describe("the test record system's SMART Backend Services token endpoint", () => {
  it("issues a token for a good assertion (RS384 and ES384) and refuses a wrong aud, a reused jti, a long exp and no token", async () => {
    expect((await fetch(`${fhir.baseUrl}/Patient`)).status).toBe(401);
    const good = assertionFrom().assertion();
    const issued = await tokenRequest(good);
    expect(issued.status).toBe(200);
    expect((await fetch(`${fhir.baseUrl}/Patient`, { headers: { authorization: `Bearer ${issued.body.access_token}` } })).status).toBe(200);
    expect((await tokenRequest(good)).body.error_description).toBe("jti has been used before");
    expect((await tokenRequest(assertionFrom({ tokenUrl: "https://elsewhere.example/token" }).assertion())).body.error_description).toMatch(/^aud must be/);
    const tenMinutesAhead = () => Date.now() + 600_000;
    expect((await tokenRequest(assertionFrom({ now: tenMinutesAhead }).assertion())).body.error_description).toBe(
      "exp must be no more than five minutes ahead",
    );

    const ec = clientKey("ec", "handover-ec");
    fhir.oauth?.jwks.keys.push(ec.jwk);
    expect((await tokenRequest(assertionFrom({ pem: ec.pem, algorithm: "ES384", keyId: "handover-ec" }).assertion())).status).toBe(200);
    fhir.oauth?.jwks.keys.pop();
  });
});

describe("EHR filing through OAuth2 client credentials with a signed JWT (real Synapse)", () => {
  it("looks the patient up and files with a token from the token endpoint", async () => {
    const tokensBefore = fhir.oauth?.issued.length ?? 0;
    await alice.send(room.roomId, "!handover patient 9434765919");
    await room.waitForNotice((text) => text.includes("SMITH, Jane (born 1980-01-02)"), "the link with the patient's name");
    await alice.send(room.roomId, "Reviewed on ward round; for discharge tomorrow.");
    await room.fileAndConfirm(alice);
    await room.waitForNotice((text) => text.startsWith("Filed to the record as DocumentReference/"), "the filed notice");
    expect(await documentsFor(fhir, "9434765919")).toHaveLength(1);
    expect(fhir.oauth?.issued.length).toBe(tokensBefore + 1);
    expect(await filedRanges()).toBe(1);
  });

  it("renews an access token that has expired and files without a failed attempt", async () => {
    const tokensBefore = fhir.oauth?.issued.length ?? 0;
    fhir.oauth?.expireTokens();
    const before = (await room.notices()).length;
    await alice.send(room.roomId, "TTOs ready; transport booked for 11:00.");
    await room.fileAndConfirm(alice);
    await room.waitForNotice((text) => text.startsWith("Filed to the record as DocumentReference/"), "the filed notice", before);
    expect((await room.notices()).slice(before).some((text) => text.startsWith("Filing to the record failed"))).toBe(false);
    expect(fhir.oauth?.issued.length).toBe(tokensBefore + 1);
    expect(await documentsFor(fhir, "9434765919")).toHaveLength(2);
  });

  it("a key the record system does not know is refused with a clear error in the room and the portal, and nothing is filed", async () => {
    fhir.oauth?.jwks.keys.splice(0, 1, unrelated.jwk);
    fhir.oauth?.expireTokens();
    const rangesBefore = await filedRanges();
    const before = (await room.notices()).length;
    await alice.send(room.roomId, "Discharged home.");
    await room.fileAndConfirm(alice);
    const failed = await room.waitForNotice((text) => text.startsWith("Filing to the record failed (attempt 1)"), "the failure notice", before);
    expect(failed).toContain(
      "the token endpoint answered HTTP 401 invalid_client: the client assertion's signature does not verify against the registered key",
    );
    expect(failed).toContain("Nothing has been marked as filed");

    const portal = await PortalSession.signIn(handover.webPort, alice.userId, alice.user.password);
    const list = await portal.ok(API.listFilings);
    const ours = list.filings.find((filing) => filing.roomId === room.roomId && filing.status !== "filed");
    expect(ours?.status).toBe("retrying");
    expect(ours?.lastError).toContain("invalid_client: the client assertion's signature does not verify");
    expect(await documentsFor(fhir, "9434765919")).toHaveLength(2);
    expect(await filedRanges()).toBe(rangesBefore);

    // The trust registers the right key again: the next retry files it.
    fhir.oauth?.jwks.keys.splice(0, 1, registered.jwk);
    await room.waitForNotice((text) => text.startsWith("Filed to the record as DocumentReference/"), "the filed notice after the key is fixed", before);
    expect(await documentsFor(fhir, "9434765919")).toHaveLength(3);
    expect(await filedRanges()).toBe(rangesBefore + 1);
  });
});

describe("EHR filing with a static bearer token (real Synapse, trust b)", () => {
  let staticFhir: TestFhirServer;
  let handoverB: Handover;

  afterAll(async () => {
    await handoverB?.stop();
    await staticFhir?.stop();
  });

  it("sends the configured token with every request and files", async () => {
    const trust = stack.trusts.b;
    staticFhir = await startFhirServer({ bearerToken: "trust-b-static-token" });
    expect((await fetch(`${staticFhir.baseUrl}/Patient`)).status).toBe(401);
    handoverB = await startHandover(trust, await freshDatabase(stack.databaseUrls.b, "records_bearer"), {
      records: {
        destination: "fhir",
        fhir: { baseUrl: staticFhir.baseUrl, auth: "bearer", bearerToken: "trust-b-static-token" },
        // carol files alone here, a patient the record does not know (docs/records.md, who confirms).
        patientLookup: { confirmation: "any-member" },
      },
    });
    const carol = await TestUser.register(trust, `rec-bearer${Date.now()}`);
    const roomId = await carol.createRoom("Ward 2 bearer", CLINICAL_ROOM);
    const roomB = new RecordsRoom(roomId, carol, () => handoverB);
    await carol.invite(roomId, handoverB.botUserId);
    await eventually("the bot to join", async () => (await carol.members(roomId))[handoverB.botUserId] === "join");
    await carol.send(roomId, "!handover patient 9990000018");
    await roomB.waitForNotice((text) => text.includes("is now linked"), "the link");
    await carol.send(roomId, "Seen in clinic; no change to plan.");
    await roomB.fileAndConfirm(carol);
    await roomB.waitForNotice((text) => text.startsWith("Filed to the record as DocumentReference/"), "the filed notice");
    expect(await documentsFor(staticFhir, "9990000018")).toHaveLength(1);
    expect(new Set(staticFhir.authorizations.slice(1))).toEqual(new Set(["Bearer trust-b-static-token"]));
  });
});
