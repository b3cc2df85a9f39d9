// The plans the server answers from (GET /plans) and which one the page is on: the plan chosen in the selector
// (it goes with each question as `plan`), else the plan the conversation is on (the last answer's), else the
// server's default. Shows the choice, the current plan's title, and the link to its 任务分工表 (.xlsx).
import { apiFetch, describeError, errorMessage } from "./api.js";
import { $, el } from "./dom.js";

const state = { plans: [], byId: new Map(), defaultId: null, chosen: "", conversation: null };
const listeners = [];

// The plan chosen in the selector, or null: the question (or the conversation) picks it.
export function chosenPlan() {
  return state.chosen || null;
}

// The plan the page is on, as GET /plans describes it (null until the list has loaded).
export function currentPlan() {
  const id = state.chosen || state.conversation || state.defaultId;
  return state.byId.get(id) || null;
}

export function planTitle(id) {
  const plan = state.byId.get(id);
  return plan ? plan.title : "";
}

// onChange(plan) whenever the current plan changes (chosen, answered from, or the list reloaded).
export function onPlanChange(onChange) {
  listeners.push(onChange);
}

// The plan an answer came from (its `plan`): the conversation is on it now. null: a new conversation.
export function setConversationPlan(plan) {
  const id = plan ? plan.id : null;
  if (id === state.conversation) return;
  const before = currentPlan();
  state.conversation = id;
  if (currentPlan() !== before) changed();
}

function changed() {
  const plan = currentPlan();
  showCurrent(plan);
  listeners.forEach((onChange) => onChange(plan));
}

// Loads GET /plans and fills the selector; a plan chosen before stays chosen if the server still has it.
export async function loadPlans() {
  const response = await apiFetch("/plans", { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(await errorMessage(response));
  const body = await response.json();
  const before = currentPlan();
  state.plans = body.plans;
  state.byId = new Map(body.plans.map((p) => [p.id, p]));
  state.defaultId = body.default;
  if (!state.byId.has(state.chosen)) state.chosen = "";
  if (!state.byId.has(state.conversation)) state.conversation = null;
  fillSelector();
  const now = currentPlan();
  showCurrent(now);
  if (!before || !now || before.id !== now.id || before.index_version !== now.index_version) {
    listeners.forEach((onChange) => onChange(now));
  }
}

function planLabel(plan) {
  return plan.id === state.defaultId ? `${plan.title}（默认）` : plan.title;
}

function fillSelector() {
  const select = $("#plan-select");
  const automatic = el("option", { value: "", text: "按问题自动选择" });
  select.replaceChildren(automatic, ...state.plans.map((p) => el("option", { value: p.id, text: planLabel(p) })));
  select.value = state.chosen;
  $("#plan-choice").hidden = state.plans.length < 2; // one plan: nothing to choose
}

function showCurrent(plan) {
  const link = $("#matrix-link");
  const note = $("#plan-note");
  if (!plan) {
    link.hidden = true;
    note.textContent = "";
    return;
  }
  $("#plan-title").textContent = `${plan.title} · 问答`;
  document.title = `${plan.title} · 问答`;
  link.href = `/plans/${encodeURIComponent(plan.id)}/matrix.xlsx`;
  link.title = `《${plan.title}》任务分工表：任务 × 责任单位，牵头 / 配合 / 落实`;
  link.dataset.plan = plan.id;
  link.hidden = false;
  // With 按问题自动选择, say which plan the page is on now (the conversation's, else the default).
  note.textContent = state.chosen || state.plans.length < 2 ? "" : `当前：${plan.title}`;
}

// The name a download is saved under: Content-Disposition's filename* (UTF-8), else its filename.
function downloadName(response, fallback) {
  const header = response.headers.get("Content-Disposition") || "";
  const utf8 = /filename\*=UTF-8''([^;]+)/i.exec(header);
  if (utf8) {
    try {
      return decodeURIComponent(utf8[1]);
    } catch (_) { /* a malformed name: the plain one below */ }
  }
  const plain = /filename="([^"]+)"/i.exec(header);
  return plain ? plain[1] : fallback;
}

// The link downloads through fetch, so that the access key goes with it (a plain link cannot send it) and a
// failure is said in words; a click with a modifier key (new tab, save as) is left to the browser.
async function download(event) {
  if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  const link = event.currentTarget;
  const status = $("#plan-status");
  status.textContent = "正在生成任务分工表…";
  try {
    const response = await apiFetch(link.href);
    if (!response.ok) throw new Error(await errorMessage(response));
    const url = URL.createObjectURL(await response.blob());
    const save = el("a", { href: url, download: downloadName(response, `${link.dataset.plan}-matrix.xlsx`), hidden: true });
    document.body.append(save);
    save.click();
    save.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    status.textContent = "";
  } catch (error) {
    status.textContent = `下载失败：${describeError(error)}`;
  }
}

// The selector (a choice goes with each question from now on) and the download link.
export function setUpPlans() {
  $("#plan-select").addEventListener("change", (event) => {
    state.chosen = event.target.value;
    changed();
  });
  $("#matrix-link").addEventListener("click", download);
}
