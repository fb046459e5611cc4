/**
 * The one way both front ends build DOM: text only ever goes in through textContent, so
 * customer and agent text (stored raw by the hub) can never become markup.
 */

/**
 * `el("div", "cls", text)` or `el("button", {class, hidden, "data-role": …}, text)`.
 */
export function el(tag, attrs, text) {
  const node = document.createElement(tag);
  if (typeof attrs === "string") {
    node.className = attrs;
  } else if (attrs) {
    Object.keys(attrs).forEach((k) => {
      if (k === "class") node.className = attrs[k];
      else if (k === "hidden") node.hidden = !!attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
  }
  if (text != null) node.textContent = String(text);
  return node;
}
