// A few DOM helpers: no framework, no inline script or style (the page's CSP forbids them).

/** h("button", {testid: "x", onclick: f, class: "big"}, "text", child, ...) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "testid") el.dataset.testid = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "value") el.value = v;
    else if (k === "checked" || k === "disabled" || k === "hidden" || k === "selected") el[k] = Boolean(v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** A labelled input: label wraps the control so the whole row is a touch target. */
export function field(label, control) {
  return h("label", { class: "field" }, h("span", {}, label), control);
}

export function select(testid, options, value, attrs = {}) {
  return h(
    "select",
    { testid, ...attrs },
    options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)),
  );
}

export function screen(name, ...children) {
  return h("section", { class: "screen", testid: `screen-${name}` }, ...children);
}

export function toast(text, kind = "info") {
  const box = document.querySelector('[data-testid="toast"]');
  if (!box) return;
  box.textContent = text;
  box.dataset.kind = kind;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (box.hidden = true), 4000);
}
