// The ask flow: the question box and example chips, one conversation id for follow-ups, follow-up chips, retry;
// the plan chosen in the selector goes with each question, and the answer's plan becomes the conversation's.
import { apiFetch, describeError, errorMessage } from "./api.js";
import { $, el } from "./dom.js";
import { chosenPlan, loadPlans, setConversationPlan } from "./plans.js";
import { readAnswer } from "./stream.js";
import { newTurnView, renderMeta, resetView, setText, showError } from "./turn.js";

let conversationId = newConversationId();
let busy = false;

function newConversationId() {
  // crypto.randomUUID needs a secure context; intranet pages are often plain http.
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return "web-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
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
  const retry = () => ask(question, view);
  const plan = chosenPlan();
  try {
    const response = await apiFetch("/ask/stream", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify({ question, conversation_id: conversationId, ...(plan ? { plan } : {}) }),
    });
    if (!response.ok) {
      showError(view, await errorMessage(response), retry);
      if (response.status === 404 && plan) loadPlans().catch(() => {}); // the chosen plan was removed meanwhile
      return;
    }
    view.status.lastChild.textContent = "正在作答…";
    const finished = await readAnswer(response, {
      onMeta: (meta) => {
        renderMeta(view, meta);
        view.meta = meta;
        setConversationPlan(meta.plan);
      },
      onText: (text) => setText(view, text),
    });
    if (!finished) {
      showError(view, "连接中断，回答不完整，请重试。", retry);
      return;
    }
    if (view.root.dataset.state === "pending") view.root.dataset.state = "done";
    view.root.setAttribute("aria-busy", "false");
    view.status.hidden = true;
    showFollowUps(view.meta);
  } catch (error) {
    showError(view, describeError(error), retry);
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
  setConversationPlan(null);
  $("#conversation").replaceChildren();
  $("#followups").hidden = true;
  $("#intro").hidden = false;
  $("#question").focus();
}

// The question box (Enter asks), the example and follow-up chips, and 开始新对话.
export function setUpAsking() {
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
}
