/**
 * The first-run step of the compose deployment (docs/install.md). Runs in the Handover image as
 * root, through docker-compose.yml's `init` service:
 *
 *   docker compose --profile init run --rm init                  # setup (before Synapse starts)
 *   docker compose --profile init run --rm init admin-token      # once Synapse is up
 *
 * setup writes Synapse's secrets (signing key, registration shared secret, macaroon and form
 * secrets) into Synapse's data volume, has `handover generate-registration` write the appservice
 * registration into Handover's volume, copies it to Synapse's, and gives each volume to the user
 * its service runs as. It never replaces a secret that exists, so running it again is safe.
 * `setup --rotate-registration` makes new appservice tokens (restart Synapse and Handover after).
 *
 * admin-token registers Handover's Synapse server-admin account through Synapse's shared-secret
 * registration endpoint and prints the access token to put in .env.
 *
 * Node runs this file directly (type stripping), so it uses erasable TypeScript only and imports
 * nothing from Handover's source, which the image does not contain.
 */
import { execFileSync } from "node:child_process";
import { createHmac, generateKeyPairSync, randomBytes } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, posix } from "node:path";
import { pathToFileURL } from "node:url";
import { parse } from "yaml";

/** start.py in the matrixdotorg/synapse image runs Synapse as 991:991 unless UID/GID are set. */
export const SYNAPSE_OWNER = { uid: 991, gid: 991 } as const;
/** The user the Dockerfile creates for Handover. */
export const HANDOVER_OWNER = { uid: 10001, gid: 10001 } as const;
/** The server name in the shipped templates; a real install must choose its own first. */
export const TEMPLATE_SERVER_NAME = "matrix.trust.example";
/** Where Synapse's data volume sits inside the Synapse container. */
const SYNAPSE_DATA_IN_SYNAPSE = "/data";

export interface InitPaths {
  /** Handover's config (deploy/handover/config.yaml). */
  handoverConfig: string;
  /** Synapse's config (deploy/synapse/homeserver.yaml). */
  synapseConfig: string;
  /**
   * The workers variant's shared Synapse config (docker-compose.workers.yml), read after
   * homeserver.yaml as Synapse reads it; absent in the single-process deployment.
   */
  synapseWorkersConfig?: string;
  /** Synapse's data volume, mounted here in the init container (it is /data in Synapse's). */
  synapseData: string;
  /** The Handover CLI. */
  cli: string;
}

export const CONTAINER_PATHS: InitPaths = {
  handoverConfig: "/config/config.yaml",
  synapseConfig: "/synapse-config/homeserver.yaml",
  synapseWorkersConfig: "/synapse-config/workers/shared.yaml",
  synapseData: "/synapse-data",
  cli: "/app/appservice/dist/cli.js",
};

export class InitError extends Error {
  override name = "InitError";
}

type Log = (line: string) => void;

/** The signing key file format Synapse's generate_signing_key writes: algorithm, key id, seed. */
export function synapseSigningKey(): string {
  const jwk = generateKeyPairSync("ed25519").privateKey.export({ format: "jwk" });
  if (jwk.d === undefined) throw new InitError("Node did not export the ed25519 seed");
  const seed = Buffer.from(jwk.d, "base64url").toString("base64").replace(/=+$/, "");
  const keyId = `a_${randomBytes(3)
    .toString("base64url")
    .replace(/[^A-Za-z0-9]/g, "x")
    .slice(0, 4)}`;
  return `ed25519 ${keyId} ${seed}\n`;
}

export function randomSecret(): string {
  return randomBytes(48).toString("base64url");
}

/** The HMAC Synapse's /_synapse/admin/v1/register checks (same as register_new_matrix_user). */
export function registrationMac(sharedSecret: string, nonce: string, username: string, password: string, admin: boolean): string {
  return createHmac("sha1", sharedSecret)
    .update(`${nonce}\0${username}\0${password}\0${admin ? "admin" : "notadmin"}`, "utf8")
    .digest("hex");
}

/** Where a path Synapse sees under /data lies in the init container; refuses any other path. */
export function inSynapseVolume(pathInSynapse: string, synapseData: string, key: string): string {
  const normal = posix.normalize(pathInSynapse);
  if (!normal.startsWith(`${SYNAPSE_DATA_IN_SYNAPSE}/`)) {
    throw new InitError(
      `homeserver.yaml ${key}: ${pathInSynapse} is outside Synapse's data volume (${SYNAPSE_DATA_IN_SYNAPSE}/); the init service can only write there`,
    );
  }
  return `${synapseData}${normal.slice(SYNAPSE_DATA_IN_SYNAPSE.length)}`;
}

function readYaml(path: string, what: string): Record<string, unknown> {
  let document: unknown;
  try {
    document = parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new InitError(`cannot read ${what} at ${path}: ${(error as Error).message}`);
  }
  if (typeof document !== "object" || document === null || Array.isArray(document)) {
    throw new InitError(`${what} at ${path} is not a YAML mapping`);
  }
  return document as Record<string, unknown>;
}

function stringAt(document: Record<string, unknown>, path: string, what: string): string {
  let node: unknown = document;
  for (const key of path.split(".")) node = typeof node === "object" && node !== null ? (node as Record<string, unknown>)[key] : undefined;
  if (typeof node !== "string" || node === "") throw new InitError(`${what}: ${path} must be set`);
  return node;
}

export interface DeploymentSettings {
  serverName: string;
  homeserverUrl: string;
  /** Handover's registration file (same path in the init and handover containers). */
  registrationFile: string;
  /** Synapse's copy of the registration, in the init container. */
  synapseRegistrationFile: string;
  /** Synapse's secret files, in the init container, by homeserver.yaml key. */
  synapseSecrets: Partial<Record<SecretKey, string>>;
}

const SECRET_KEYS = [
  "signing_key_path",
  "registration_shared_secret_path",
  "macaroon_secret_key_path",
  "form_secret_path",
  "worker_replication_secret_path",
] as const;
type SecretKey = (typeof SECRET_KEYS)[number];

/** Reads what the init needs from both configs and checks they describe the same server. */
export function readSettings(paths: InitPaths): DeploymentSettings {
  const workers = paths.synapseWorkersConfig && existsSync(paths.synapseWorkersConfig) ? readYaml(paths.synapseWorkersConfig, "Synapse's workers config") : {};
  const synapse = { ...readYaml(paths.synapseConfig, "Synapse's homeserver.yaml"), ...workers };
  const handover = readYaml(paths.handoverConfig, "Handover's config");
  const serverName = stringAt(synapse, "server_name", "homeserver.yaml");
  const handoverServerName = stringAt(handover, "homeserver.serverName", "Handover's config");
  if (serverName !== handoverServerName) {
    throw new InitError(`server names differ: homeserver.yaml server_name is ${serverName}, Handover's homeserver.serverName is ${handoverServerName}`);
  }
  const registrationFile = stringAt(handover, "appservice.registrationFile", "Handover's config");
  const appserviceFiles = synapse.app_service_config_files;
  const listed = Array.isArray(appserviceFiles) ? appserviceFiles.filter((entry): entry is string => typeof entry === "string") : [];
  const synapseCopy = listed.find((entry) => basename(entry) === basename(registrationFile));
  if (synapseCopy === undefined) {
    throw new InitError(
      `homeserver.yaml app_service_config_files must list ${SYNAPSE_DATA_IN_SYNAPSE}/${basename(registrationFile)} (Synapse's copy of Handover's registration)`,
    );
  }
  const synapseSecrets: Partial<Record<SecretKey, string>> = {};
  for (const key of SECRET_KEYS) {
    const value = synapse[key];
    if (typeof value === "string") synapseSecrets[key] = inSynapseVolume(value, paths.synapseData, key);
  }
  if (synapseSecrets.signing_key_path === undefined) throw new InitError("homeserver.yaml signing_key_path must be set (to a file under /data/)");
  return {
    serverName,
    homeserverUrl: stringAt(handover, "homeserver.url", "Handover's config"),
    registrationFile,
    synapseRegistrationFile: inSynapseVolume(synapseCopy, paths.synapseData, "app_service_config_files"),
    synapseSecrets,
  };
}

function own(path: string, owner: { uid: number; gid: number }, mode: number): void {
  chownSync(path, owner.uid, owner.gid);
  chmodSync(path, mode);
}

function ensureDirectory(path: string, owner: { uid: number; gid: number }): void {
  mkdirSync(path, { recursive: true });
  own(path, owner, 0o750);
}

/** Writes a secret file unless it exists: a secret is never replaced by a rerun. */
function writeSecretOnce(path: string, content: () => string, log: Log): void {
  ensureDirectory(dirname(path), SYNAPSE_OWNER);
  if (existsSync(path)) {
    log(`kept     ${path}`);
  } else {
    writeFileSync(path, content(), { mode: 0o600, flag: "wx" });
    log(`created  ${path}`);
  }
  own(path, SYNAPSE_OWNER, 0o600);
}

export interface SetupOptions {
  rotateRegistration?: boolean;
  env?: NodeJS.ProcessEnv;
  log?: Log;
}

export function setup(paths: InitPaths, options: SetupOptions = {}): DeploymentSettings {
  const log = options.log ?? console.log;
  const settings = readSettings(paths);
  if (settings.serverName === TEMPLATE_SERVER_NAME) {
    throw new InitError(
      `server_name is still the template's ${TEMPLATE_SERVER_NAME}. Set your trust's server name in deploy/synapse/homeserver.yaml and deploy/handover/config.yaml first: it cannot be changed after Synapse's first start.`,
    );
  }

  // Synapse runs as 991 and must own its volume to create media_store and its pid file.
  own(paths.synapseData, SYNAPSE_OWNER, 0o750);
  const secrets = settings.synapseSecrets;
  if (secrets.signing_key_path) writeSecretOnce(secrets.signing_key_path, synapseSigningKey, log);
  for (const key of ["registration_shared_secret_path", "macaroon_secret_key_path", "form_secret_path", "worker_replication_secret_path"] as const) {
    const path = secrets[key];
    if (path) writeSecretOnce(path, () => `${randomSecret()}\n`, log);
  }

  const registrationDirectory = dirname(settings.registrationFile);
  ensureDirectory(registrationDirectory, HANDOVER_OWNER);
  if (existsSync(settings.registrationFile) && !options.rotateRegistration) {
    log(`kept     ${settings.registrationFile}`);
  } else {
    // The CLI validates the whole config, and the admin token cannot exist before Synapse has
    // run: a stand-in satisfies the check; the registration does not contain it.
    const env = { ...(options.env ?? process.env) };
    if (!env.HANDOVER__HOMESERVER__ADMIN_ACCESS_TOKEN) env.HANDOVER__HOMESERVER__ADMIN_ACCESS_TOKEN = "not-needed-to-generate-the-registration";
    const args = [paths.cli, "generate-registration", "--config", paths.handoverConfig, ...(options.rotateRegistration ? ["--force"] : [])];
    try {
      execFileSync(process.execPath, args, { env, stdio: ["ignore", "ignore", "pipe"] });
    } catch (error) {
      const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
      throw new InitError(`handover generate-registration failed: ${stderr || (error as Error).message}`);
    }
    log(`${options.rotateRegistration ? "replaced" : "created "} ${settings.registrationFile}`);
  }
  own(settings.registrationFile, HANDOVER_OWNER, 0o600);

  // Synapse gets a byte-for-byte copy: the two sides must hold the same tokens.
  const registration = readFileSync(settings.registrationFile);
  const synapseCopy = existsSync(settings.synapseRegistrationFile) ? readFileSync(settings.synapseRegistrationFile) : undefined;
  if (synapseCopy?.equals(registration)) {
    log(`kept     ${settings.synapseRegistrationFile}`);
  } else {
    writeFileSync(settings.synapseRegistrationFile, registration, { mode: 0o600 });
    log(
      `${synapseCopy ? "replaced" : "created "} ${settings.synapseRegistrationFile}${synapseCopy ? " (restart Synapse and Handover to use the new tokens)" : ""}`,
    );
  }
  own(settings.synapseRegistrationFile, SYNAPSE_OWNER, 0o600);
  return settings;
}

export interface AdminAccount {
  userId: string;
  accessToken: string;
  password: string;
}

interface SynapseAnswer {
  status: number;
  body: Record<string, unknown>;
}

async function synapseCall(url: string, init: RequestInit): Promise<SynapseAnswer> {
  let response: Response;
  try {
    response = await fetch(url, { ...init, signal: AbortSignal.timeout(15_000) });
  } catch (error) {
    throw new InitError(`cannot reach Synapse at ${url} (${(error as Error).message}). Start it first: docker compose up -d postgres synapse`);
  }
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    body = { error: text.slice(0, 200) };
  }
  return { status: response.status, body };
}

/** Registers a server-admin account with the registration shared secret and returns its token. */
export async function createAdminAccount(paths: InitPaths, localpart: string): Promise<AdminAccount> {
  if (!/^[a-z0-9._=\-/]+$/.test(localpart)) throw new InitError(`${localpart} is not a valid Matrix localpart (lower-case letters, digits, . _ = - /)`);
  const settings = readSettings(paths);
  const secretPath = settings.synapseSecrets.registration_shared_secret_path;
  if (secretPath === undefined) throw new InitError("homeserver.yaml registration_shared_secret_path must be set for admin-token");
  if (!existsSync(secretPath)) throw new InitError(`${secretPath} does not exist: run the setup step first (docker compose --profile init run --rm init)`);
  const sharedSecret = readFileSync(secretPath, "utf8").trim();
  const endpoint = new URL("/_synapse/admin/v1/register", settings.homeserverUrl).toString();

  const nonceAnswer = await synapseCall(endpoint, { method: "GET" });
  const nonce = nonceAnswer.body.nonce;
  if (nonceAnswer.status !== 200 || typeof nonce !== "string") {
    throw new InitError(`Synapse refused a registration nonce (${nonceAnswer.status} ${String(nonceAnswer.body.error ?? "")})`);
  }
  const password = randomBytes(24).toString("base64url");
  const answer = await synapseCall(endpoint, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ nonce, username: localpart, password, admin: true, mac: registrationMac(sharedSecret, nonce, localpart, password, true) }),
  });
  if (answer.body.errcode === "M_USER_IN_USE") {
    throw new InitError(
      `@${localpart}:${settings.serverName} exists already. Sign in as it to get a new token (docs/install.md, "Replacing the admin token"), or pass another localpart: init admin-token <localpart>`,
    );
  }
  const { access_token: accessToken, user_id: userId } = answer.body;
  if (answer.status !== 200 || typeof accessToken !== "string" || typeof userId !== "string") {
    throw new InitError(`Synapse refused the registration (${answer.status} ${String(answer.body.errcode ?? "")} ${String(answer.body.error ?? "")})`);
  }
  return { userId, accessToken, password };
}

const USAGE = `usage: init [setup [--rotate-registration] | admin-token [localpart]]`;

export async function main(argv: readonly string[], paths: InitPaths = CONTAINER_PATHS): Promise<void> {
  const [command = "setup", ...rest] = argv;
  if (command === "setup") {
    const unknown = rest.filter((arg) => arg !== "--rotate-registration");
    if (unknown.length > 0) throw new InitError(`unknown argument ${unknown.join(" ")}\n${USAGE}`);
    const settings = setup(paths, { rotateRegistration: rest.includes("--rotate-registration") });
    console.log(`\nSynapse and Handover are ready for their first start as ${settings.serverName}. Next:
  docker compose up -d postgres synapse
  docker compose --profile init run --rm init admin-token`);
    return;
  }
  if (command === "admin-token") {
    if (rest.length > 1) throw new InitError(USAGE);
    const account = await createAdminAccount(paths, rest[0] ?? "handover-admin");
    console.log(`Created ${account.userId}, a Synapse server admin for Handover.

Add this line to .env (the token is a credential: keep .env readable by root only):

HANDOVER_ADMIN_ACCESS_TOKEN=${account.accessToken}

Then start Handover: docker compose up -d

The account's password, for the trust's password vault (Handover does not need it; it lets
you sign in as this account later to get a new token):

${account.password}`);
    return;
  }
  throw new InitError(USAGE);
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(`init: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
