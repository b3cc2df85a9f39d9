// PlanQA page (plain ES modules, no build step, nothing from elsewhere): wires the modules once the page is parsed.
import { setUpKeyForm } from "./api.js";
import { setUpAsking } from "./ask.js";
import { setUpUnitFilter, showBrowse } from "./browse.js";
import { $ } from "./dom.js";
import { loadPlans, onPlanChange, setUpPlans } from "./plans.js";
import { setUpTabs } from "./tabs.js";

// The plans, the current plan's title and its download link; a nicety: questions still work without them.
function refreshPlans() {
  loadPlans().catch(() => { /* questions still work (the question picks the plan), and their errors are shown */ });
}

document.addEventListener("DOMContentLoaded", () => {
  setUpTabs();
  setUpAsking();
  setUpUnitFilter();
  setUpPlans();
  onPlanChange(() => {
    if (!$("#view-browse").hidden) showBrowse();
  });
  setUpKeyForm(() => {
    refreshPlans();
    if (!$("#view-browse").hidden) showBrowse();
    $("#question").focus();
  });
  // Plans are added and removed while serving: look again when the page comes back into view.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") refreshPlans();
  });
  refreshPlans();
});
