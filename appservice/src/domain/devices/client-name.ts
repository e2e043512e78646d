/**
 * A readable client name from a session's user agent ("Element X on Android"). People
 * recognise their app and phone, not a user agent string; the raw string stays available.
 */
const APPS: [RegExp, string][] = [
  [/Element ?X|ElementX/i, "Element X"],
  [/Element|Riot/i, "Element"],
  [/FluffyChat/i, "FluffyChat"],
  [/SchildiChat/i, "SchildiChat"],
  [/Nheko/i, "Nheko"],
  [/matrix-js-sdk|node-fetch|undici|Node\.js|^node$/i, "matrix-js-sdk (script or bot)"],
  [/Edg\//, "Edge"],
  [/Firefox\//, "Firefox"],
  [/Chrome\//, "Chrome"],
  [/Safari\//, "Safari"],
];

const SYSTEMS: [RegExp, string][] = [
  [/Android/i, "Android"],
  [/iPhone|iPad|iOS/i, "iOS"],
  [/Windows/i, "Windows"],
  [/Mac OS|Macintosh|macOS/i, "macOS"],
  [/Linux/i, "Linux"],
];

export function clientName(userAgent: string | null): string {
  if (!userAgent) return "unknown client";
  const app = APPS.find(([pattern]) => pattern.test(userAgent))?.[1];
  const system = SYSTEMS.find(([pattern]) => pattern.test(userAgent))?.[1];
  const name = app ?? userAgent.split(/[\s/(]/)[0] ?? "unknown client";
  return system ? `${name} on ${system}` : name;
}
