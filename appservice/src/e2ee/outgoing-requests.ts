import * as wasm from "@matrix-org/matrix-sdk-crypto-wasm";
import type { CryptoTransport } from "./crypto-transport.js";

export type CryptoRequest =
  | wasm.KeysUploadRequest
  | wasm.KeysQueryRequest
  | wasm.KeysClaimRequest
  | wasm.ToDeviceRequest
  | wasm.SignatureUploadRequest
  | wasm.RoomMessageRequest
  | wasm.KeysBackupRequest;

const path = (text: string) => encodeURIComponent(text);

/** Sends one of the OlmMachine's outgoing requests as the bot's device; returns the response body. */
export function sendOutgoingRequest(transport: Pick<CryptoTransport, "call">, deviceId: string, request: CryptoRequest): Promise<string> {
  if (request instanceof wasm.KeysUploadRequest) return transport.call("POST", "/keys/upload", request.body, deviceId);
  if (request instanceof wasm.KeysQueryRequest) return transport.call("POST", "/keys/query", request.body, deviceId);
  if (request instanceof wasm.KeysClaimRequest) return transport.call("POST", "/keys/claim", request.body, deviceId);
  if (request instanceof wasm.SignatureUploadRequest) return transport.call("POST", "/keys/signatures/upload", request.body, deviceId);
  if (request instanceof wasm.ToDeviceRequest)
    return transport.call("PUT", `/sendToDevice/${path(request.event_type)}/${path(request.txn_id)}`, request.body, deviceId);
  if (request instanceof wasm.RoomMessageRequest)
    return transport.call("PUT", `/rooms/${path(request.room_id)}/send/${path(request.event_type)}/${path(request.txn_id)}`, request.body, deviceId);
  // Key backup is not enabled by Handover; answer the machine so it does not ask again.
  return Promise.resolve("{}");
}
