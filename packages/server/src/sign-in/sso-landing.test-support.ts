// Test support (not a test itself): where a browser lands after a single sign-on redirect.

export type Landing = {
  status: number;
  location: string;
  /** `sesame_session=…` (`__Host-sesame_session=…` over https) when the sign-in finished (no Sesame MFA on top). */
  cookie: string | undefined;
  /** The browser's device cookie: the sign-in continues only with it. */
  device: string;
  /** The `#…` of the location: `flow`, `status` and `methods` (MFA on top). */
  hash: URLSearchParams;
  /** The `sesame_sso_error` cookie for the page at /login#sso-error: a code, or `FORBIDDEN:<words>`. */
  error: string | undefined;
  /** Every Set-Cookie of the answer. */
  setCookies: string[];
};

const cookieOf = (response: Response, name: string) =>
  response.headers
    .getSetCookie()
    .find((c) => c.startsWith(`${name}=`))
    ?.split(';')[0];

function ssoError(response: Response): string | undefined {
  const cookie = response.headers
    .getSetCookie()
    .find((c) => c.startsWith('sesame_sso_error=') || c.startsWith('__Host-sesame_sso_error='));
  if (!cookie) return undefined;
  const attributes = cookie.split(';').map((a) => a.trim().toLowerCase());
  const path = cookie.startsWith('__Host-') ? 'path=/' : 'path=/login';
  if (!attributes.includes(path) || attributes.includes('httponly'))
    throw new Error(`the SSO error cookie is not for the sign-in page's script: ${cookie}`);
  const pair = cookie.split(';')[0] as string;
  return decodeURIComponent(pair.slice(pair.indexOf('=') + 1));
}

/**
 * Why a single sign-on failed, as the tests check it: the page is told only a code (and Sesame's own words for
 * FORBIDDEN); the reason is in the server log ("single sign-on failed"), its last such line.
 */
export function ssoFailureReason(
  landing: Landing,
  logs: readonly string[],
): { code: string; reason: string } {
  const value = landing.error ?? '';
  const [code = '', ...rest] = value.split(':');
  const logged = logs
    .map((line) => JSON.parse(line) as { msg?: string; code?: string; reason?: string })
    .filter((line) => line.msg === 'single sign-on failed')
    .at(-1);
  if (code === 'FORBIDDEN') return { code, reason: rest.join(':') };
  if (rest.length > 0) throw new Error(`only FORBIDDEN carries words to show, not ${value}`);
  if (logged?.code !== code) throw new Error(`the last logged SSO failure is ${logged?.code}, not ${code}`);
  return { code, reason: logged.reason ?? '' };
}

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
    cookie: cookieOf(response, 'sesame_session') ?? cookieOf(response, '__Host-sesame_session'),
    device: cookieOf(response, 'sesame_device') ?? cookieOf(response, '__Host-sesame_device') ?? '',
    hash,
    error: ssoError(response),
    setCookies: response.headers.getSetCookie(),
  };
}
