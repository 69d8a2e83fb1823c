// What both pages share (service/api/ui.py puts it into each page's inline script where the page
// says `// merit:common.js`, so the page stays one self-contained file under its CSP hash).

// ---------------------------------------------------------------- API problems (RFC 9457 documents)
class ApiProblem extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || ("HTTP " + status));
    this.status = status;
    this.problem = problem;
  }
}

// each page's own `api(method, path, body)` sends the token and throws an ApiProblem
const getJson = async (path) => (await api("GET", path)).json();
const postJson = async (path, body) => (await api("POST", path, body)).json();

// ---------------------------------------------------------------- DOM helpers: every value is text, never markup
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function fillTable(table, head, rows) {
  table.replaceChildren(
    el("thead", {}, el("tr", {}, head.map((h) => el("th", { class: h.n ? "n" : null }, h.text ?? h)))),
    el("tbody", {}, rows),
  );
}
