/** Where the web console's static files live; the server serves them same-origin. */
export const webRoot: URL = new URL('../public/', import.meta.url);
