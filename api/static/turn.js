// One question and its answer in the conversation: pending, streamed text, its plan, units, cards, not covered,
// error.
import { cardId, citationCards } from "./cards.js";
import { $, el, unitTags, withCitationLinks } from "./dom.js";
import { planTitle } from "./plans.js";

let turnCount = 0;

export function newTurnView(question) {
  turnCount += 1;
  const id = `turn${turnCount}`;
  const status = el("p", { class: "status", role: "status" }, el("span", { class: "spinner", "aria-hidden": "true" }), "正在检索计划…");
  const badge = el("span", { class: "badge", hidden: true });
  const plan = el("p", { class: "turn-plan", hidden: true });
  const resolved = el("p", { class: "resolved", hidden: true });
  const units = el("span", { hidden: true });
  const text = el("div", { class: "answer-text" });
  const citations = el("span", { hidden: true });
  const root = el("div", { class: "answer", "data-state": "pending", "aria-busy": "true" }, status, plan, badge, resolved, units, text, citations);
  const article = el(
    "article", { class: "turn", id, "aria-label": `第${turnCount}问` },
    el("p", { class: "question" }, el("span", { class: "sr-only", text: "问：" }), question),
    root,
  );
  $("#conversation").append(article);
  return { id, root, status, plan, badge, resolved, units, text, citations, article };
}

export function resetView(view) {
  view.root.dataset.state = "pending";
  view.root.setAttribute("aria-busy", "true");
  view.status.hidden = false;
  view.badge.hidden = true;
  view.text.textContent = "";
}

// Which plan answered: "出自《…》", or the two plans a year-over-year answer compares.
function planLine(meta) {
  const compared = meta.comparison && !meta.comparison.refused && meta.comparison.old && meta.comparison.new;
  if (compared) {
    const title = (id) => planTitle(id) || meta.citations.find((c) => c.plan === id)?.plan_title || id;
    return `对比《${title(meta.comparison.old)}》与《${title(meta.comparison.new)}》`;
  }
  return meta.plan ? `出自《${meta.plan.title}》` : "";
}

export function renderMeta(view, meta) {
  const cited = new Map(); // 【label】 → the first card of that label
  meta.citations.forEach((c, i) => {
    const label = c.label || `第${c.task}项`;
    if (!cited.has(label)) cited.set(label, cardId(view.id, c, i));
  });
  view.cited = cited;
  view.plan.textContent = planLine(meta);
  view.plan.hidden = !view.plan.textContent;
  view.terms = meta.highlight || [];
  if (meta.resolved_question) view.resolved.textContent = `理解为：${meta.resolved_question}`;
  view.resolved.hidden = !meta.resolved_question;
  const first = meta.citations[0];
  if (meta.found && first && first.units.length && ["who", "fact", "task"].includes(meta.intent)) {
    view.units.replaceWith((view.units = unitTags(first.units, first.lead_unit)));
  }
  if (!meta.found) {
    const close = meta.suggestions || [];
    view.root.dataset.state = "not-covered";
    // With close tasks the plan covers the topic but does not state what was asked: say so, not 计划未涉及.
    view.badge.textContent = close.length ? "计划未写明" : meta.intent === "out_of_scope" ? "计划未涉及" : "未找到";
    view.badge.hidden = false;
    if (close.length) view.root.append(suggestionChips(close));
  }
  if (!meta.citations.length) return;
  const nodes = citationCards(meta.citations, view.id, view.terms);
  view.citations.replaceWith(...nodes);
  view.citations = nodes[0];
}

// Close tasks offered when the plan does not state the answer: each a chip that asks for that task.
function suggestionChips(suggestions) {
  const list = el("ul", { class: "chips suggestions", "aria-label": "相关的任务" });
  suggestions.forEach((s) => {
    const label = `第${s.task}项 ${s.title}（${s.lead_unit || "未列责任单位"}牵头）`;
    list.append(el("li", {}, el("button", { type: "button", class: "chip", "data-question": `第${s.task}项任务是什么？`, text: label })));
  });
  return el("div", { class: "suggestions" }, el("p", { class: "suggestions-label", text: "相关的可能是：" }), list);
}

export function setText(view, text) {
  view.text.replaceChildren(withCitationLinks(text, view.cited || new Map()));
}

// The answer as an error, in words, with a 重试 button that calls onRetry().
export function showError(view, message, onRetry) {
  view.root.dataset.state = "error";
  view.root.setAttribute("aria-busy", "false");
  view.status.hidden = true;
  view.badge.textContent = "出错了";
  view.badge.hidden = false;
  view.text.textContent = message;
  const retry = el("button", { type: "button", class: "chip retry", text: "重试" });
  retry.addEventListener("click", () => { retry.remove(); onRetry(); });
  view.root.append(retry);
}
