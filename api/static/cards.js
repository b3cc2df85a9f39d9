// Citation cards: 第N项 · title, the plan and section, highlighted excerpt, units, 展开全文 for the whole task (of the
// card's own plan), 显示全部 for long lists.
import { apiFetch, describeError, errorMessage } from "./api.js";
import { el, highlighted, unitsText } from "./dom.js";

const CARDS_SHOWN = 5; // citation cards shown before "显示全部"
const taskCache = new Map();

async function fetchTask(plan, number) {
  const key = `${plan}/${number}`;
  if (!taskCache.has(key)) {
    const query = plan ? `?plan=${encodeURIComponent(plan)}` : "";
    const response = await apiFetch(`/tasks/${number}${query}`, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(await errorMessage(response));
    taskCache.set(key, await response.json());
  }
  return taskCache.get(key);
}

// A card's element id: unique in the page even when a comparison cites one task number in two plans.
export function cardId(turnId, citation, index) {
  return `${turnId}-c${index}-task-${citation.task}`;
}

function citationCard(citation, turnId, terms, index) {
  const id = cardId(turnId, citation, index);
  const fullId = `${id}-full`;
  const full = el("div", { class: "full", id: fullId, hidden: true });
  const toggle = el("button", {
    type: "button", class: "link-button", "aria-expanded": "false", "aria-controls": fullId, text: "展开全文",
  });
  toggle.addEventListener("click", async () => {
    const open = toggle.getAttribute("aria-expanded") === "true";
    if (open) {
      full.hidden = true;
      toggle.setAttribute("aria-expanded", "false");
      toggle.textContent = "展开全文";
      return;
    }
    if (!full.childNodes.length) {
      toggle.disabled = true;
      toggle.textContent = "正在载入全文…";
      try {
        const task = await fetchTask(citation.plan, citation.task);
        full.append(highlighted(`${task.number}.${task.text}`, terms));
        if (task.units.length) full.append(el("p", { class: "units", text: `责任单位：${task.units.join("、")}` }));
      } catch (error) {
        full.append(el("span", { class: "form-error", text: describeError(error) }));
      } finally {
        toggle.disabled = false;
      }
    }
    full.hidden = false;
    toggle.setAttribute("aria-expanded", "true");
    toggle.textContent = "收起全文";
  });
  return el(
    "li",
    { class: "card", id, hidden: index >= CARDS_SHOWN },
    el("h3", { tabindex: "-1" }, el("span", { class: "task-no", text: citation.label || `第${citation.task}项` }), ` · ${citation.title}`),
    citation.plan_title ? el("p", { class: "card-plan", text: `《${citation.plan_title}》` }) : null,
    el("p", { class: "section-name", text: citation.section }),
    el("p", { class: "excerpt" }, highlighted(citation.excerpt, terms)),
    el("p", { class: "units", text: unitsText(citation.units, citation.lead_unit) }),
    toggle,
    full,
  );
}

// The cards of one turn as [list], or [list, "显示全部N条出处" button] when some are hidden at first.
export function citationCards(citations, turnId, terms) {
  const list = el("ol", { class: "citations", "aria-label": "出处" });
  citations.forEach((c, i) => list.append(citationCard(c, turnId, terms, i)));
  if (citations.length <= CARDS_SHOWN) return [list];
  const more = el("button", {
    type: "button", class: "link-button more-cards", text: `显示全部${citations.length}条出处`,
  });
  more.addEventListener("click", () => {
    list.querySelectorAll(".card[hidden]").forEach((card) => { card.hidden = false; });
    more.remove();
  });
  return [list, more];
}
