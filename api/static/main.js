// PlanQA page (plain ES modules, no build step, nothing from elsewhere): wires the modules once the page is parsed.
import { apiFetch, setUpKeyForm } from "./api.js";
import { setUpAsking } from "./ask.js";
import { setUpUnitFilter, showBrowse } from "./browse.js";
import { $ } from "./dom.js";
import { setUpTabs } from "./tabs.js";

// The plan's title in the heading and the tab; a nicety: questions still work without it.
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

document.addEventListener("DOMContentLoaded", () => {
  setUpTabs();
  setUpAsking();
  setUpUnitFilter();
  setUpKeyForm(() => {
    loadTitle();
    if (!$("#view-browse").hidden) showBrowse();
    $("#question").focus();
  });
  loadTitle();
});
