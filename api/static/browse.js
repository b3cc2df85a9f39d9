// The plan browser: the current plan's sections and tasks from /tasks, filtered by a unit from /units (牵头 or
// 配合 marked).
import { apiFetch, describeError, errorMessage } from "./api.js";
import { $, el, unitsText } from "./dom.js";
import { currentPlan } from "./plans.js";

const CN = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十"];
const loaded = new Map(); // plan id and index version → { plan, units }
let shown = null; // what the view shows: { plan, units }
let shownKey = null;

async function loadPlan(key, query) {
  if (loaded.has(key)) return loaded.get(key);
  const [planResponse, unitsResponse] = await Promise.all([apiFetch(`/tasks${query}`), apiFetch(`/units${query}`)]);
  if (!planResponse.ok) throw new Error(await errorMessage(planResponse));
  if (!unitsResponse.ok) throw new Error(await errorMessage(unitsResponse));
  const data = { plan: await planResponse.json(), units: await unitsResponse.json() };
  loaded.set(key, data);
  return data;
}

// [1, 2, 3, 7] → "1–3、7"
function ranges(numbers) {
  const out = [];
  numbers.forEach((n) => {
    const last = out[out.length - 1];
    if (last && n === last[1] + 1) last[1] = n;
    else out.push([n, n]);
  });
  return out.map(([a, b]) => (a === b ? `${a}` : `${a}–${b}`)).join("、");
}

function renderPlan({ plan, units }) {
  const select = $("#unit-filter");
  const keep = select.value;
  select.replaceChildren(
    el("option", { value: "", text: "全部单位" }),
    ...units.map((u) => el("option", { value: u.name, text: `${u.name}（${u.tasks.length}项，牵头${u.lead_tasks.length}项）` })),
  );
  select.value = units.some((u) => u.name === keep) ? keep : "";
  const tasks = new Map(plan.tasks.map((t) => [t.key, t]));
  const tree = $("#plan-tree");
  tree.replaceChildren();
  plan.sections.forEach((section) => {
    const list = el("ol", { class: "task-list" });
    section.tasks.forEach((n) => {
      const t = tasks.get(n);
      list.append(
        el(
          "li", { class: "task-item", "data-task": String(n), "data-units": JSON.stringify(t.units) },
          el(
            "details", {},
            el("summary", {}, el("strong", { text: `${t.label} ` }), t.title, el("span", { class: "role" })),
            el("p", { class: "task-body", text: t.text }),
            el("p", { class: "units", text: unitsText(t.units, t.lead_unit) }),
          ),
        ),
      );
    });
    tree.append(
      el("section", { class: "plan-section", "data-section": String(section.number) },
        el("h2", { text: `${section.numeral}、${section.title}` }), list),
    );
  });
  const gaps = [];
  if (plan.missing_sections.length) gaps.push(`第${plan.missing_sections.map((n) => CN[n] || n).join("、")}部分`);
  if (plan.missing_tasks.length) gaps.push(`第${ranges(plan.missing_tasks)}项`);
  if (gaps.length) tree.append(el("p", { class: "gap-note", text: `说明：本计划文本中缺${gaps.join("和")}。` }));
  applyFilter();
}

function applyFilter() {
  if (!shown) return;
  const unit = $("#unit-filter").value;
  const info = shown.units.find((u) => u.name === unit);
  document.querySelectorAll(".task-item").forEach((item) => {
    const n = Number(item.dataset.task);
    const role = item.querySelector(".role");
    role.replaceChildren();
    if (!info) {
      item.hidden = false;
      return;
    }
    item.hidden = !info.tasks.includes(n);
    const lead = info.lead_tasks.includes(n);
    const local = (info.local_tasks || []).includes(n);
    role.append(el("span", { class: lead ? "unit-tag lead" : "unit-tag", text: lead ? "牵头" : local ? "落实" : "配合" }));
  });
  document.querySelectorAll(".plan-section").forEach((section) => {
    section.hidden = !section.querySelector(".task-item:not([hidden])");
  });
  const total = shown.plan.tasks.length;
  $("#browse-summary").textContent = info
    ? `${info.name}参与${info.tasks.length}项任务，其中牵头${info.lead_tasks.length}项。`
    : `共${shown.plan.sections.length}个部分、${total}项任务。点开任务可看原文。`;
}

// Shows the current plan (GET /plans's; before that list has loaded, the server's default plan).
const keyOf = (plan) => (plan ? `${plan.id}@${plan.index_version}` : "");

export async function showBrowse() {
  const current = currentPlan();
  const key = keyOf(current);
  if (shown && key === shownKey) return;
  const summary = $("#browse-summary");
  summary.textContent = "正在载入计划…";
  try {
    const data = await loadPlan(key, current ? `?plan=${encodeURIComponent(current.id)}` : "");
    if (keyOf(currentPlan()) !== key) return; // the plan changed while this one loaded: that call shows it
    shown = data;
    shownKey = key;
    renderPlan(data);
  } catch (error) {
    summary.textContent = `计划载入失败：${describeError(error)}`;
  }
}

export function setUpUnitFilter() {
  $("#unit-filter").addEventListener("change", applyFilter);
}
