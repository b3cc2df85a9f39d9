// DOM helpers: elements (server text always as text nodes, never HTML), highlighted words, 【第N项】 links, units.

export const $ = (selector) => document.querySelector(selector);

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child);
  }
  return node;
}

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// Text with each of `terms` wrapped in <mark>, as a fragment.
export function highlighted(text, terms) {
  const fragment = document.createDocumentFragment();
  const usable = (terms || []).filter((t) => t && t.length >= 1).sort((a, b) => b.length - a.length);
  if (!usable.length) {
    fragment.append(text);
    return fragment;
  }
  const pattern = new RegExp("(" + usable.map(escapeRegExp).join("|") + ")", "g");
  text.split(pattern).forEach((part, i) => {
    if (!part) return;
    fragment.append(i % 2 === 1 ? el("mark", { text: part }) : part);
  });
  return fragment;
}

// Answer text with 【第N项】 (or 【第三部分第2项】) turned into links to the citation card of this turn;
// ``cited`` maps a mark's label to the id of its card.
export function withCitationLinks(text, cited) {
  const fragment = document.createDocumentFragment();
  text.split(/(【第[^【】]{1,16}项】)/).forEach((part) => {
    const label = part.startsWith("【") ? part.slice(1, -1) : "";
    if (label && cited.has(label)) {
      const target = cited.get(label);
      fragment.append(
        el("a", {
          class: "cite-ref", href: "#" + target, text: part, "aria-label": `出处：${label}`,
          onclick: (event) => { event.preventDefault(); revealCard(target); },
        }),
      );
    } else if (part) {
      fragment.append(part);
    }
  });
  return fragment;
}

function revealCard(id) {
  const card = document.getElementById(id);
  if (!card) return;
  card.hidden = false;
  card.scrollIntoView({ behavior: "smooth", block: "center" });
  card.classList.add("flash");
  setTimeout(() => card.classList.remove("flash"), 1500);
  const heading = card.querySelector("h3");
  if (heading) heading.focus({ preventScroll: true });
}

// The units as tags, the lead unit marked 牵头.
export function unitTags(units, lead) {
  const line = el("p", { class: "units-line" });
  units.forEach((unit) => {
    line.append(el("span", { class: unit === lead ? "unit-tag lead" : "unit-tag", text: unit === lead ? `牵头：${unit}` : unit }));
  });
  return line;
}

// "责任单位：A（牵头）、B", or that the plan names none.
export function unitsText(units, lead) {
  return units.length
    ? "责任单位：" + units.map((u) => (u === lead ? `${u}（牵头）` : u)).join("、")
    : "计划未列出责任单位";
}
