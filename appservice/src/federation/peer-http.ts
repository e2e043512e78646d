import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import http from "node:http";
import https from "node:https";
import { BlockList, isIP, type LookupFunction } from "node:net";

/**
 * HTTP to other trusts' Handovers, where the address may come from someone we do not control
 * yet: no redirects (they would bypass the https and address rules), no loopback, private or
 * link-local addresses unless local testing is switched on (checked on every resolved address,
 * at connect time, so DNS cannot swap one in later), a cap on the answer's size and on the
 * whole exchange's time. Errors are fixed sentences that quote nothing of the answer.
 */

export interface PeerHttpLimits {
  /** Allow loopback, private and link-local addresses (local tests only). */
  allowLocalAddresses: boolean;
  timeoutMs: number;
  maxResponseBytes: number;
}

export interface PeerHttpAnswer {
  status: number;
  /** The answer parsed as JSON, or undefined when it was not JSON. */
  json: unknown;
}

/** Why a request to a peer failed; the message never contains anything the peer sent. */
export class PeerHttpError extends Error {
  constructor(
    readonly problem: "refused_address" | "redirect" | "too_large" | "timeout" | "unreachable" | "not_json" | "bad_url",
    message: string,
  ) {
    super(message);
    this.name = "PeerHttpError";
  }
}

const LOCAL_RANGES = new BlockList();
for (const [network, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
] as const)
  LOCAL_RANGES.addSubnet(network, prefix, "ipv4");
for (const [network, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8],
] as const)
  LOCAL_RANGES.addSubnet(network, prefix, "ipv6");

/** Whether an IP address is loopback (IPv4-mapped IPv6 forms are checked against the IPv4 ranges by BlockList), private, link-local, multicast or otherwise not a public host. */
export function isLocalAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  return LOCAL_RANGES.check(address, family === 4 ? "ipv4" : "ipv6");
}

function guardedLookup(allowLocal: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, "", 0);
      const refused = !allowLocal && addresses.some((a) => isLocalAddress(a.address));
      if (refused || addresses.length === 0) {
        const problem = new PeerHttpError("refused_address", "the partner's host resolves to a loopback, private or link-local address");
        return callback(problem as NodeJS.ErrnoException, "", 0);
      }
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      const [first] = addresses as [LookupAddress];
      callback(null, first.address, first.family);
    });
  };
}

export interface PeerRequest {
  method: "GET" | "POST";
  url: string;
  body?: string;
}

/** One request to a peer under the limits; resolves with any status, rejects with PeerHttpError. */
export function peerRequest(request: PeerRequest, limits: PeerHttpLimits): Promise<PeerHttpAnswer> {
  let url: URL;
  try {
    url = new URL(request.url);
  } catch {
    return Promise.reject(new PeerHttpError("bad_url", "the partner's URL is not valid"));
  }
  const literal = url.hostname.replace(/^\[|\]$/g, "");
  // Node connects to an IP literal without a lookup, so the guard must look at it here.
  if (isIP(literal) !== 0 && !limits.allowLocalAddresses && isLocalAddress(literal))
    return Promise.reject(new PeerHttpError("refused_address", "the partner's URL names a loopback, private or link-local address"));
  const transport = url.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (error: PeerHttpError) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      req.destroy();
      reject(error);
    };
    const req = transport.request(url, {
      method: request.method,
      lookup: guardedLookup(limits.allowLocalAddresses),
      headers: { accept: "application/json", ...(request.body === undefined ? {} : { "content-type": "application/json" }) },
    });
    // One deadline for connecting, sending and reading the whole answer.
    const deadline = setTimeout(() => fail(new PeerHttpError("timeout", `the partner did not answer within ${limits.timeoutMs} ms`)), limits.timeoutMs);
    req.on("error", (error) => fail(error instanceof PeerHttpError ? error : new PeerHttpError("unreachable", "the partner could not be reached")));
    req.on("response", (response) => {
      const status = response.statusCode ?? 0;
      if (status >= 300 && status < 400) return fail(new PeerHttpError("redirect", `the partner answered with a redirect (${status}), which is not followed`));
      const chunks: Buffer[] = [];
      let size = 0;
      response.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > limits.maxResponseBytes) return fail(new PeerHttpError("too_large", `the partner's answer exceeded ${limits.maxResponseBytes} bytes`));
        chunks.push(chunk);
      });
      response.on("error", () => fail(new PeerHttpError("unreachable", "the partner's answer was cut off")));
      response.on("end", () => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        let json: unknown;
        try {
          json = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        } catch {
          json = undefined;
        }
        resolve({ status, json });
      });
    });
    req.end(request.body);
  });
}
