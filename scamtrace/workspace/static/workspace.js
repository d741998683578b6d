// The workspace's few behaviours; served from the package (the CSP allows no inline script).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // A filter's select applies itself (the Show button stays for keyboards and no script).
  for (const select of document.querySelectorAll("form.filters select")) {
    select.addEventListener("change", () => select.form.requestSubmit());
  }
  // Rejecting or confirming asks once: a verdict is kept and read by detect.
  for (const button of document.querySelectorAll(".decide button[name=verdict]")) {
    button.addEventListener("click", (event) => {
      if (!window.confirm(`Record this entity as ${button.value}?`)) event.preventDefault();
    });
  }
});
