/** Calls to Handover's admin API as a signed-in person (a portal session's cookie). */
export class PortalSession {
  private constructor(
    private readonly base: string,
    private readonly cookie: string,
  ) {}

  static async signIn(webPort: number, userId: string, password: string): Promise<PortalSession> {
    const base = `http://127.0.0.1:${webPort}/api/v1`;
    const response = await fetch(`${base}/session`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: userId, password }),
    });
    if (response.status !== 201) throw new Error(`sign-in failed: ${response.status} ${await response.text()}`);
    return new PortalSession(base, (response.headers.get("set-cookie") ?? "").split(";")[0] ?? "");
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers: { cookie: this.cookie, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : {}) as T };
  }

  async ok<T>(method: string, path: string, body?: unknown): Promise<T> {
    const answer = await this.call<T>(method, path, body);
    if (answer.status >= 300) throw new Error(`${method} ${path} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    return answer.body;
  }
}
