// PlanQA page: ask (streamed answers over POST /ask/stream), follow up, browse the plan by section and unit.
// Plain JavaScript, no build step, nothing loaded from elsewhere. Text from the server is always inserted as
// text nodes, never as HTML.
"use strict";

const $ = (selector) => document.querySelector(selector);
const CARDS_SHOWN = 5; // citation cards shown before "显示全部"
let conversationId = newConversationId();
let busy = false;
let turnCount = 0;
let planCache = null;
let apiKey = sessionStorage.getItem("planqa-api-key") || "";

// fetch with the access key, if the server wants one (PLANQA_API_KEYS); a 401 asks the user for it.
async function apiFetch(url, options = {}) {
  const headers = new Headers(options.headers || {});
  if (apiKey) headers.set("Authorization", `Bearer ${apiKey}`);
  const response = await fetch(url, { ...options, headers });
  if (response.status === 401) {
    $("#key-form").hidden = false;
    $("#api-key").focus();
  }
  return response;
}
const taskCache = new Map();

function newConversationId() {
  // crypto.randomUUID needs a secure context; intranet pages are often plain http.
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return "web-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function el(tag, attrs = {}, ...children) {
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
function highlighted(text, terms) {
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

// Answer text with 【第N项】 turned into links to the citation card of this turn.
function withCitationLinks(text, turnId, cited) {
  const fragment = document.createDocumentFragment();
  text.split(/(【第\d+项】)/).forEach((part) => {
    const m = part.match(/^【第(\d+)项】$/);
    if (m && cited.has(Number(m[1]))) {
      const target = `${turnId}-task-${m[1]}`;
      fragment.append(
        el("a", {
          class: "cite-ref", href: "#" + target, text: part, "aria-label": `出处：第${m[1]}项`,
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

function unitTags(units, lead) {
  const line = el("p", { class: "units-line" });
  units.forEach((unit) => {
    line.append(el("span", { class: unit === lead ? "unit-tag lead" : "unit-tag", text: unit === lead ? `牵头：${unit}` : unit }));
  });
  return line;
}

async function fetchTask(number) {
  if (!taskCache.has(number)) {
    const response = await apiFetch(`/tasks/${number}`, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(await errorMessage(response));
    taskCache.set(number, await response.json());
  }
  return taskCache.get(number);
}

function citationCard(citation, turnId, terms, index) {
  const id = `${turnId}-task-${citation.task}`;
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
        const task = await fetchTask(citation.task);
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
  const unitsText = citation.units.length
    ? "责任单位：" + citation.units.map((u) => (u === citation.lead_unit ? `${u}（牵头）` : u)).join("、")
    : "计划未列出责任单位";
  return el(
    "li",
    { class: "card", id, hidden: index >= CARDS_SHOWN },
    el("h3", { tabindex: "-1" }, el("span", { class: "task-no", text: `第${citation.task}项` }), ` · ${citation.title}`),
    el("p", { class: "section-name", text: citation.section }),
    el("p", { class: "excerpt" }, highlighted(citation.excerpt, terms)),
    el("p", { class: "units", text: unitsText }),
    toggle,
    full,
  );
}

function renderMeta(view, meta) {
  const cited = new Set(meta.citations.map((c) => c.task));
  view.cited = cited;
  view.terms = meta.highlight || [];
  if (meta.resolved_question) view.resolved.textContent = `理解为：${meta.resolved_question}`;
  view.resolved.hidden = !meta.resolved_question;
  const first = meta.citations[0];
  if (meta.found && first && first.units.length && ["who", "fact", "task"].includes(meta.intent)) {
    view.units.replaceWith((view.units = unitTags(first.units, first.lead_unit)));
  }
  if (!meta.found) {
    view.root.dataset.state = "not-covered";
    view.badge.textContent = meta.intent === "out_of_scope" ? "计划未涉及" : "未找到";
    view.badge.hidden = false;
  }
  if (!meta.citations.length) return;
  const list = el("ol", { class: "citations", "aria-label": "出处" });
  meta.citations.forEach((c, i) => list.append(citationCard(c, view.id, view.terms, i)));
  view.citations.replaceWith((view.citations = list));
  if (meta.citations.length > CARDS_SHOWN) {
    const more = el("button", {
      type: "button", class: "link-button more-cards", text: `显示全部${meta.citations.length}条出处`,
    });
    more.addEventListener("click", () => {
      list.querySelectorAll(".card[hidden]").forEach((card) => { card.hidden = false; });
      more.remove();
    });
    list.after(more);
  }
}

function setText(view, text) {
  view.text.replaceChildren(withCitationLinks(text, view.id, view.cited || new Set()));
}

function showError(view, message, question) {
  view.root.dataset.state = "error";
  view.root.setAttribute("aria-busy", "false");
  view.status.hidden = true;
  view.badge.textContent = "出错了";
  view.badge.hidden = false;
  view.text.textContent = message;
  const retry = el("button", { type: "button", class: "chip retry", text: "重试" });
  retry.addEventListener("click", () => { retry.remove(); ask(question, view); });
  view.root.append(retry);
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) return body.error.message;
  } catch (_) { /* not JSON: fall through to the status */ }
  if (response.status >= 500) return `服务器出错（${response.status}），请稍后重试。`;
  return `请求未成功（${response.status}）。`;
}

function describeError(error) {
  if (error instanceof TypeError) return "无法连接服务器，请检查网络连接后重试。";
  return error && error.message ? error.message : "出现未知错误，请重试。";
}

function newTurnView(question) {
  turnCount += 1;
  const id = `turn${turnCount}`;
  const status = el("p", { class: "status", role: "status" }, el("span", { class: "spinner", "aria-hidden": "true" }), "正在检索计划…");
  const badge = el("span", { class: "badge", hidden: true });
  const resolved = el("p", { class: "resolved", hidden: true });
  const units = el("span", { hidden: true });
  const text = el("div", { class: "answer-text" });
  const citations = el("span", { hidden: true });
  const root = el("div", { class: "answer", "data-state": "pending", "aria-busy": "true" }, status, badge, resolved, units, text, citations);
  const article = el(
    "article", { class: "turn", id, "aria-label": `第${turnCount}问` },
    el("p", { class: "question" }, el("span", { class: "sr-only", text: "问：" }), question),
    root,
  );
  $("#conversation").append(article);
  return { id, root, status, badge, resolved, units, text, citations, article };
}

function resetView(view) {
  view.root.dataset.state = "pending";
  view.root.setAttribute("aria-busy", "true");
  view.status.hidden = false;
  view.badge.hidden = true;
  view.text.textContent = "";
}

// Reads server-sent events from a fetch response; calls onEvent(name, data) for each.
async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let name = "message";
      const data = [];
      block.split("\n").forEach((line) => {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      });
      if (data.length) onEvent(name, JSON.parse(data.join("\n")));
    }
    if (done) return;
  }
}

async function ask(question, existingView) {
  if (busy) return;
  question = question.trim();
  const formError = $("#form-error");
  formError.hidden = true;
  if (!question) {
    formError.textContent = "请先输入问题。";
    formError.hidden = false;
    $("#question").focus();
    return;
  }
  setBusy(true);
  $("#intro").hidden = true;
  $("#followups").hidden = true;
  const view = existingView || newTurnView(question);
  if (existingView) resetView(view);
  view.article.scrollIntoView({ behavior: "smooth", block: "start" });
  let text = "";
  let finished = false;
  try {
    const response = await apiFetch("/ask/stream", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify({ question, conversation_id: conversationId }),
    });
    if (!response.ok) {
      showError(view, await errorMessage(response), question);
      return;
    }
    view.status.lastChild.textContent = "正在作答…";
    await readEvents(response, (name, data) => {
      if (name === "meta") {
        renderMeta(view, data);
        view.meta = data;
      } else if (name === "delta") {
        text += data.text;
        setText(view, text);
      } else if (name === "done") {
        finished = true;
        setText(view, data.answer);
      } else if (name === "error") {
        throw new Error(data.error.message);
      }
    });
    if (!finished) {
      showError(view, "连接中断，回答不完整，请重试。", question);
      return;
    }
    if (view.root.dataset.state === "pending") view.root.dataset.state = "done";
    view.root.setAttribute("aria-busy", "false");
    view.status.hidden = true;
    showFollowUps(view.meta);
  } catch (error) {
    showError(view, describeError(error), question);
  } finally {
    setBusy(false);
  }
}

function setBusy(value) {
  busy = value;
  const button = $("#ask-button");
  button.disabled = value;
  button.textContent = value ? "回答中…" : "提问";
  document.querySelectorAll(".chip[data-question]").forEach((chip) => { chip.disabled = value; });
}

function showFollowUps(meta) {
  const list = $("#followup-list");
  list.replaceChildren();
  if (!meta || !meta.citations.length) return;
  const suggestions = ["那它的牵头单位是谁？"];
  if (meta.citations.length >= 2) suggestions.push("第二个呢？");
  if (["who", "fact"].includes(meta.intent)) suggestions.push("还有哪些？");
  suggestions.push("这项任务的原文");
  suggestions.forEach((q) => list.append(el("li", {}, el("button", { type: "button", class: "chip", "data-question": q, text: q }))));
  $("#followups").hidden = false;
}

function startNewConversation() {
  conversationId = newConversationId();
  $("#conversation").replaceChildren();
  $("#followups").hidden = true;
  $("#intro").hidden = false;
  $("#question").focus();
}

// ---- Browse view ------------------------------------------------------------------------------------

async function loadPlan() {
  if (planCache) return planCache;
  const [planResponse, unitsResponse] = await Promise.all([apiFetch("/tasks"), apiFetch("/units")]);
  if (!planResponse.ok) throw new Error(await errorMessage(planResponse));
  if (!unitsResponse.ok) throw new Error(await errorMessage(unitsResponse));
  planCache = { plan: await planResponse.json(), units: await unitsResponse.json() };
  return planCache;
}

function ranges(numbers) {
  const out = [];
  numbers.forEach((n) => {
    const last = out[out.length - 1];
    if (last && n === last[1] + 1) last[1] = n;
    else out.push([n, n]);
  });
  return out.map(([a, b]) => (a === b ? `${a}` : `${a}–${b}`)).join("、");
}

const CN = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十"];

function renderPlan({ plan, units }) {
  const select = $("#unit-filter");
  if (select.options.length === 1) {
    units.forEach((u) => {
      select.append(el("option", { value: u.name, text: `${u.name}（${u.tasks.length}项，牵头${u.lead_tasks.length}项）` }));
    });
  }
  const tasks = new Map(plan.tasks.map((t) => [t.number, t]));
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
            el("summary", {}, el("strong", { text: `第${n}项 ` }), t.title, el("span", { class: "role" })),
            el("p", { class: "task-body", text: t.text }),
            el("p", { class: "units", text: t.units.length ? `责任单位：${t.units.map((u) => (u === t.lead_unit ? `${u}（牵头）` : u)).join("、")}` : "计划未列出责任单位" }),
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
  if (!planCache) return;
  const unit = $("#unit-filter").value;
  const info = planCache.units.find((u) => u.name === unit);
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
    role.append(el("span", { class: lead ? "unit-tag lead" : "unit-tag", text: lead ? "牵头" : "配合" }));
  });
  document.querySelectorAll(".plan-section").forEach((section) => {
    section.hidden = !section.querySelector(".task-item:not([hidden])");
  });
  const total = planCache.plan.tasks.length;
  $("#browse-summary").textContent = info
    ? `${info.name}参与${info.tasks.length}项任务，其中牵头${info.lead_tasks.length}项。`
    : `共${planCache.plan.sections.length}个部分、${total}项任务。点开任务可看原文。`;
}

async function showBrowse() {
  const summary = $("#browse-summary");
  if (!planCache) summary.textContent = "正在载入计划…";
  try {
    renderPlan(await loadPlan());
  } catch (error) {
    summary.textContent = `计划载入失败：${describeError(error)}`;
  }
}

// ---- Tabs -------------------------------------------------------------------------------------------

function selectTab(tab, focus) {
  document.querySelectorAll('[role="tab"]').forEach((t) => {
    const selected = t === tab;
    t.setAttribute("aria-selected", String(selected));
    t.tabIndex = selected ? 0 : -1;
    document.getElementById(t.getAttribute("aria-controls")).hidden = !selected;
  });
  if (focus) tab.focus();
  if (tab.id === "tab-browse") showBrowse();
}

function setUpTabs() {
  const tabs = Array.from(document.querySelectorAll('[role="tab"]'));
  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => selectTab(tab, false));
    tab.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (step) {
        event.preventDefault();
        selectTab(tabs[(i + step + tabs.length) % tabs.length], true);
      }
    });
  });
}

// ---- Start ------------------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  setUpTabs();
  const form = $("#ask-form");
  const input = $("#question");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const question = input.value;
    if (question.trim() && !busy) input.value = "";
    ask(question);
  });
  input.addEventListener("keydown", (event) => {
    // Enter asks; Shift+Enter is a new line; Enter while an input method is composing Chinese is neither.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  document.addEventListener("click", (event) => {
    const chip = event.target.closest(".chip[data-question]");
    if (chip && !chip.disabled) ask(chip.dataset.question);
  });
  $("#new-conversation").addEventListener("click", startNewConversation);
  $("#unit-filter").addEventListener("change", applyFilter);
  $("#key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    apiKey = $("#api-key").value.trim();
    sessionStorage.setItem("planqa-api-key", apiKey);
    $("#key-form").hidden = true;
    loadTitle();
    if (!$("#view-browse").hidden) showBrowse();
    $("#question").focus();
  });
  loadTitle();
});

function loadTitle() {
  apiFetch("/tasks")
    .then((r) => (r.ok ? r.json() : null))
    .then((plan) => {
      if (plan && plan.title) {
        $("#plan-title").textContent = `${plan.title} · 问答`;
        document.title = `${plan.title} · 问答`;
      }
    })
    .catch(() => { /* the title is a nicety; questions still work, and their errors are shown */ });
}
