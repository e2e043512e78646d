/**
 * Just enough of a browser for single sign-on in integration tests: follows redirects by hand,
 * keeps cookies by name for 127.0.0.1 (browsers do not separate cookies by port), and submits
 * the identity provider's login form. The Playwright spec drives the real thing in Chromium.
 */
export class SsoBrowser {
  readonly cookies = new Map<string, string>();
  /** Every URL visited, in order. */
  readonly visited: string[] = [];

  async get(url: string): Promise<Response> {
    return this.send(url, { method: "GET" });
  }

  async send(url: string, init: { method: string; body?: string; contentType?: string }): Promise<Response> {
    this.visited.push(url);
    const headers: Record<string, string> = {};
    const cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
    if (cookie) headers.cookie = cookie;
    if (init.contentType) headers["content-type"] = init.contentType;
    const response = await fetch(url, { method: init.method, headers, redirect: "manual", ...(init.body !== undefined ? { body: init.body } : {}) });
    for (const line of response.headers.getSetCookie()) {
      const [pair = "", ...attributes] = line.split(";");
      const [name = "", ...rest] = pair.trim().split("=");
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a));
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, rest.join("="));
    }
    return response;
  }

  /** Follows redirects from `url` until a page that is not a redirect, or one whose URL `stop` picks. */
  async follow(url: string, stop: (url: string) => boolean = () => false): Promise<{ url: string; response: Response }> {
    let current = url;
    for (let hops = 0; hops < 20; hops++) {
      if (stop(current)) return { url: current, response: new Response(null, { status: 599 }) };
      const response = await this.get(current);
      const location = response.headers.get("location");
      if (response.status < 300 || response.status >= 400 || !location) return { url: current, response };
      current = new URL(location, current).toString();
    }
    throw new Error(`too many redirects from ${url}: ${this.visited.slice(-20).join(" -> ")}`);
  }

  /** Submits the login form on the identity provider's page at `pageUrl`, then follows the redirects. */
  async submitLogin(pageUrl: string, html: string, login: string, password: string, stop?: (url: string) => boolean) {
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    if (!action) throw new Error(`no login form at ${pageUrl}: ${html.slice(0, 300)}`);
    const target = new URL(action.replace(/&#47;/g, "/"), pageUrl).toString();
    const response = await this.send(target, {
      method: "POST",
      body: new URLSearchParams({ login, password }).toString(),
      contentType: "application/x-www-form-urlencoded",
    });
    const location = response.headers.get("location");
    if (response.status < 300 || response.status >= 400 || !location) return { url: target, response };
    return this.follow(new URL(location, target).toString(), stop);
  }
}
