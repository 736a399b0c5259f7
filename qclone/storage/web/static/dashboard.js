// qclone dashboard: live updates by polling the page's own JSON (no library).
// An element with data-poll="URL" is refreshed every few seconds: with data-list="KEY" and
// data-key="FIELD", each row [data-key=value] gets its [data-field] cells from the matching item
// of json[KEY]; without data-list, the element's [data-field] children come from the JSON object.
"use strict";
(function () {
  const PERIOD_MS = 3000;
  function show(value) {
    if (value === true) return "yes";
    if (value === false) return "no";
    return value === null || value === undefined ? "" : String(value);
  }
  function fill(container, item) {
    container.querySelectorAll("[data-field]").forEach(function (cell) {
      const field = cell.getAttribute("data-field");
      if (!(field in item)) return;
      const text = show(item[field]);
      if (cell.textContent !== text) {
        cell.textContent = text;
        cell.className = cell.className.replace(/\bstate-\S+/g, "").trim();
        if (field === "state") cell.classList.add("state-" + text);
      }
    });
  }
  function poll(el) {
    const url = el.getAttribute("data-poll");
    const list = el.getAttribute("data-list");
    const key = el.getAttribute("data-key");
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (doc) {
        if (!doc) return;
        if (list) {
          (doc[list] || []).forEach(function (item) {
            el.querySelectorAll("[data-key]").forEach(function (row) {
              if (row !== el && row.getAttribute("data-key") === String(item[key])) fill(row, item);
            });
          });
        } else {
          fill(el, doc);
        }
      })
      .catch(function () { /* the next poll tries again */ });
  }
  document.addEventListener("DOMContentLoaded", function () {
    const els = document.querySelectorAll("[data-poll]");
    if (!els.length) return;
    setInterval(function () {
      if (document.visibilityState === "visible") els.forEach(poll);
    }, PERIOD_MS);
  });
})();
