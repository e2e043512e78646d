import { createHmac } from "node:crypto";

export interface MatrixUser {
  userId: string;
  accessToken: string;
  password: string;
}

/** Enough of a homeserver to register users on it (a TrustInfo or SynapseInfo will do). */
export interface SynapseEndpoint {
  clientUrl: string;
  registrationSharedSecret: string;
}

/** A client-server (or admin) API call; throws with the response body on a non-2xx status. */
export async function matrixRequest<T>(url: string, init: { method: string; body?: unknown; accessToken?: string }): Promise<T> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
  };
  if (init.accessToken) headers.authorization = `Bearer ${init.accessToken}`;
  const res = await fetch(url, {
    method: init.method,
    headers,
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${init.method} ${url} failed: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

/** Registers through Synapse's shared-secret admin endpoint (works with registration closed). */
export async function registerUser(
  trust: SynapseEndpoint,
  localpart: string,
  password: string,
  options: { admin?: boolean; displayName?: string } = {},
): Promise<MatrixUser> {
  const url = `${trust.clientUrl}/_synapse/admin/v1/register`;
  const { nonce } = await matrixRequest<{ nonce: string }>(url, {
    method: "GET",
  });
  const admin = options.admin ?? false;
  const mac = createHmac("sha1", trust.registrationSharedSecret)
    .update(`${nonce}\0${localpart}\0${password}\0${admin ? "admin" : "notadmin"}`)
    .digest("hex");
  const body = {
    nonce,
    username: localpart,
    password,
    admin,
    mac,
    ...(options.displayName ? { displayname: options.displayName } : {}),
  };
  const res = await matrixRequest<{ user_id: string; access_token: string }>(url, { method: "POST", body });
  return { userId: res.user_id, accessToken: res.access_token, password };
}

export async function login(trust: Pick<SynapseEndpoint, "clientUrl">, localpart: string, password: string): Promise<MatrixUser> {
  const res = await matrixRequest<{ user_id: string; access_token: string }>(`${trust.clientUrl}/_matrix/client/v3/login`, {
    method: "POST",
    body: {
      type: "m.login.password",
      identifier: { type: "m.id.user", user: localpart },
      password,
    },
  });
  return { userId: res.user_id, accessToken: res.access_token, password };
}
