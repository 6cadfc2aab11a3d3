// Test support (not a test itself): where a browser lands after a single sign-on redirect.

export type Landing = {
  status: number;
  location: string;
  /** `sesame_session=…` when the sign-in finished (no Sesame MFA needed on top). */
  cookie: string | undefined;
  /** The browser's device cookie: the sign-in continues only with it. */
  device: string;
  /** The `#…` of the location: `flow`, `status`, `methods` or `error`. */
  hash: URLSearchParams;
};

const cookieOf = (response: Response, name: string) =>
  response.headers
    .getSetCookie()
    .find((c) => c.startsWith(`${name}=`))
    ?.split(';')[0];

/** A GET as a browser sends it in a redirect chain, not followed: the redirect itself (its body discarded). */
export async function getWithoutRedirect(url: string, cookie?: string): Promise<Response> {
  const response = await fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });
  await response.body?.cancel();
  return response;
}

/** Reads a redirect answer (its body is discarded). */
export async function landingOf(response: Response): Promise<Landing> {
  await response.body?.cancel();
  const location = response.headers.get('location') ?? '';
  const hash = new URLSearchParams(location.includes('#') ? location.slice(location.indexOf('#') + 1) : '');
  return {
    status: response.status,
    location,
    cookie: cookieOf(response, 'sesame_session'),
    device: cookieOf(response, 'sesame_device') ?? '',
    hash,
  };
}
