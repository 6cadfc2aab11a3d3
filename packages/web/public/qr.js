// The server sends the enrolment QR code as an SVG string. It is parsed as XML (never as HTML) and only
// the drawing elements and attributes a QR code uses are copied into the page, so nothing in it can run.

const SVG_NS = 'http://www.w3.org/2000/svg';
const ELEMENTS = new Set(['svg', 'path', 'rect', 'g']);
const ATTRIBUTES = new Set([
  'viewBox',
  'shape-rendering',
  'fill',
  'stroke',
  'd',
  'x',
  'y',
  'width',
  'height',
]);

function copy(source) {
  if (source.namespaceURI !== SVG_NS || !ELEMENTS.has(source.localName)) return null;
  const target = document.createElementNS(SVG_NS, source.localName);
  for (const { name, value } of source.attributes) {
    if (ATTRIBUTES.has(name)) target.setAttribute(name, value);
  }
  for (const child of source.children) {
    const copied = copy(child);
    if (copied) target.append(copied);
  }
  return target;
}

/** The QR code as an accessible image element, or a text fallback when the SVG cannot be read. */
export function qrImage(svgText, label) {
  const parsed = new DOMParser().parseFromString(String(svgText ?? ''), 'image/svg+xml');
  const svg = parsed.querySelector('parsererror') ? null : copy(parsed.documentElement);
  if (!svg) {
    const note = document.createElement('p');
    note.textContent = 'The QR code cannot be shown; type the key below into your app instead.';
    return note;
  }
  svg.setAttribute('width', '200');
  svg.setAttribute('height', '200');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  svg.setAttribute('class', 'qr');
  return svg;
}
