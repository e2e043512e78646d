import { execFile } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { join, relative, resolve, sep } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** Synapse runs chrooted: the path it must be given for a host path inside the root. */
export function pathInRoot(root: string, hostPath: string): string {
  const rel = relative(resolve(root), resolve(hostPath));
  if (rel === "" || rel.startsWith("..") || rel.startsWith(sep)) {
    throw new Error(`Synapse runs chrooted in ${root}; its run directory ${hostPath} must be inside it`);
  }
  return `/${rel.split(sep).join("/")}`;
}

/** The format Synapse's generate_signing_key writes, made here to spare a Python start-up. */
export function signingKey(): string {
  const jwk = generateKeyPairSync("ed25519").privateKey.export({
    format: "jwk",
  });
  const seed = Buffer.from(jwk.d ?? "", "base64url")
    .toString("base64")
    .replace(/=+$/, "");
  return `ed25519 a_${randomBytes(3).toString("hex").slice(0, 4)} ${seed}\n`;
}

/** Federation verifies nothing here, but the listener still needs some certificate. */
export async function makeTlsCertificate(dir: string, hostname: string): Promise<void> {
  await execFileAsync("openssl", [
    ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "3650"],
    ...["-subj", `/CN=${hostname}`, "-addext", `subjectAltName=DNS:${hostname}`],
    ...["-keyout", join(dir, "tls.key"), "-out", join(dir, "tls.crt")],
  ]);
}

/** Synapse's own login limits (its defaults), for a test that needs them in force. */
export const SYNAPSE_DEFAULT_LOGIN_LIMITS = {
  rc_login: {
    address: { per_second: 0.003, burst_count: 5 },
    account: { per_second: 0.003, burst_count: 5 },
    failed_attempts: { per_second: 0.17, burst_count: 3 },
  },
};

/** Tests send bursts from a few users; Synapse's defaults would throttle them into flakiness. */
const NO_RATE_LIMIT = { per_second: 10_000, burst_count: 100_000 };
const RATE_LIMITS = {
  rc_message: NO_RATE_LIMIT,
  rc_registration: NO_RATE_LIMIT,
  rc_registration_token_validity: NO_RATE_LIMIT,
  rc_login: {
    address: NO_RATE_LIMIT,
    account: NO_RATE_LIMIT,
    failed_attempts: NO_RATE_LIMIT,
  },
  rc_admin_redaction: NO_RATE_LIMIT,
  rc_joins: { local: NO_RATE_LIMIT, remote: NO_RATE_LIMIT },
  rc_joins_per_room: NO_RATE_LIMIT,
  rc_3pid_validation: NO_RATE_LIMIT,
  rc_invites: {
    per_room: NO_RATE_LIMIT,
    per_user: NO_RATE_LIMIT,
    per_issuer: NO_RATE_LIMIT,
  },
  rc_third_party_invite: NO_RATE_LIMIT,
  rc_room_creation: NO_RATE_LIMIT,
  rc_presence: { per_user: NO_RATE_LIMIT },
  rc_delayed_event_mgmt: NO_RATE_LIMIT,
  rc_reports: NO_RATE_LIMIT,
  rc_media_create: NO_RATE_LIMIT,
  rc_send_to_device: NO_RATE_LIMIT,
  rc_key_requests: NO_RATE_LIMIT,
  rc_federation: {
    window_size: 1000,
    sleep_limit: 10_000,
    sleep_delay: 1,
    reject_limit: 100_000,
    concurrent: 1000,
  },
};

export function homeserverConfig(o: {
  serverName: string;
  clientPort: number;
  federationPort: number;
  dir: string;
  registrationPath: string;
  sharedSecret: string;
  /** Believe X-Forwarded-For on the client listener, as a homeserver behind a proxy (and Handover) does. */
  xForwarded?: boolean;
}): Record<string, unknown> {
  return {
    server_name: o.serverName,
    public_baseurl: `http://127.0.0.1:${o.clientPort}/`,
    pid_file: `${o.dir}/homeserver.pid`,
    listeners: [
      {
        port: o.clientPort,
        bind_addresses: ["127.0.0.1"],
        type: "http",
        tls: false,
        x_forwarded: o.xForwarded ?? false,
        resources: [{ names: ["client", "openid", "media"], compress: false }],
      },
      {
        port: o.federationPort,
        bind_addresses: ["127.0.0.1"],
        type: "http",
        tls: true,
        resources: [{ names: ["federation", "keys"], compress: false }],
      },
    ],
    database: { name: "sqlite3", args: { database: `${o.dir}/homeserver.db` } },
    signing_key_path: `${o.dir}/signing.key`,
    tls_certificate_path: `${o.dir}/tls.crt`,
    tls_private_key_path: `${o.dir}/tls.key`,
    federation_verify_certificates: false,
    // Synapse refuses to contact 127.0.0.0/8 unless told otherwise; both trusts live there.
    ip_range_whitelist: ["127.0.0.1"],
    trusted_key_servers: [],
    suppress_key_server_warning: true,
    report_stats: false,
    enable_metrics: false,
    registration_shared_secret: o.sharedSecret,
    enable_registration: false,
    macaroon_secret_key: randomBytes(32).toString("hex"),
    form_secret: randomBytes(32).toString("hex"),
    // Every registration and login hashes a password: bcrypt's default 12 rounds costs ~0.3 s.
    bcrypt_rounds: 4,
    app_service_config_files: [o.registrationPath],
    // End-to-end encrypted rooms (docs/e2ee.md): to-device events, device lists and one-time key
    // counts in appservice transactions.
    experimental_features: { msc2409_to_device_messages_enabled: true, msc3202_transaction_extensions: true },
    push: { include_content: false },
    media_store_path: `${o.dir}/media`,
    ...RATE_LIMITS,
  };
}
