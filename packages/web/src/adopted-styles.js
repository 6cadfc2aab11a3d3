// xterm.js styles its terminal through <style> elements whose textContent it sets (theme, cell size). The
// console's CSP allows no inline style, so those would be refused (even an empty one). This routes them into
// constructed style sheets (document.adoptedStyleSheets), which CSP does not treat as inline markup: xterm gets
// an inert <template> in place of each <style>, and every text it is given lands in its own CSSStyleSheet.

const adopted = new WeakSet();

export function adoptInlineStyles(doc = document) {
  if (adopted.has(doc)) return;
  adopted.add(doc);
  const createElement = doc.createElement.bind(doc);
  doc.createElement = (name, options) => {
    if (String(name).toLowerCase() !== 'style') return createElement(name, options);
    const element = createElement('template');
    const sheet = new CSSStyleSheet();
    let text = '';
    doc.adoptedStyleSheets = [...doc.adoptedStyleSheets, sheet];
    Object.defineProperty(element, 'textContent', {
      get: () => text,
      set: (value) => {
        text = String(value ?? '');
        sheet.replaceSync(text);
      },
    });
    const remove = element.remove.bind(element);
    element.remove = () => {
      doc.adoptedStyleSheets = doc.adoptedStyleSheets.filter((s) => s !== sheet);
      remove();
    };
    return element;
  };
}
