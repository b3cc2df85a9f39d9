// Requests to the server: fetch with the access key (a 401 shows the key form), and failures put in words.
import { $ } from "./dom.js";

let apiKey = sessionStorage.getItem("planqa-api-key") || "";

// fetch with the access key, if the server wants one (PLANQA_API_KEYS); a 401 asks the user for it.
export async function apiFetch(url, options = {}) {
  const headers = new Headers(options.headers || {});
  if (apiKey) headers.set("Authorization", `Bearer ${apiKey}`);
  const response = await fetch(url, { ...options, headers });
  if (response.status === 401) {
    $("#key-form").hidden = false;
    $("#api-key").focus();
  }
  return response;
}

// The key form keeps the key for this tab only (sessionStorage), then calls onKey().
export function setUpKeyForm(onKey) {
  $("#key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    apiKey = $("#api-key").value.trim();
    sessionStorage.setItem("planqa-api-key", apiKey);
    $("#key-form").hidden = true;
    onKey();
  });
}

export async function errorMessage(response) {
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) return body.error.message;
  } catch (_) { /* not JSON: fall through to the status */ }
  if (response.status >= 500) return `服务器出错（${response.status}），请稍后重试。`;
  return `请求未成功（${response.status}）。`;
}

export function describeError(error) {
  if (error instanceof TypeError) return "无法连接服务器，请检查网络连接后重试。";
  return error && error.message ? error.message : "出现未知错误，请重试。";
}
