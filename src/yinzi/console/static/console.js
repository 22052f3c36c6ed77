// Yinzi User Center: small enhancements; every core flow also works without this file.
"use strict";

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

// <button data-copy="ID">: copies the text of the element with that id.
function setUpCopyButtons() {
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.hidden = false;
    button.addEventListener("click", async () => {
      const source = document.getElementById(button.dataset.copy);
      if (!source) return;
      await navigator.clipboard.writeText(source.textContent.trim());
      const done = button.dataset.copied;
      if (done) {
        const label = button.textContent;
        button.textContent = done;
        setTimeout(() => { button.textContent = label; }, 2000);
      }
    });
  }
}

// Elements with data-live-order="ORDER_NO" whose order has not ended are refreshed from
// /console/feed/orders every two seconds: their [data-field] children take the new status,
// stage and progress. When an order ends, a page marked data-reload-on-end reloads to show
// its results.
const ENDED = new Set(["finish", "failed", "timeout", "cancelled"]);

function liveOrders() {
  const live = new Map();
  for (const element of document.querySelectorAll("[data-live-order]")) {
    if (ENDED.has(element.dataset.status)) continue;
    const no = element.dataset.liveOrder;
    if (!live.has(no)) live.set(no, []);
    live.get(no).push(element);
  }
  return live;
}

function applyOrder(element, order) {
  element.dataset.status = order.status;
  for (const field of element.querySelectorAll("[data-field]")) {
    const name = field.dataset.field;
    if (name === "progress") {
      if (field.tagName === "PROGRESS") field.value = order.progress;
      else field.textContent = order.progress + "%";
    } else if (name === "status") {
      field.textContent = order.statusLabel;
      field.className = "status-" + order.status;
    } else if (name === "stage") {
      field.textContent = order.stageLabel;
    }
  }
}

async function pollOrders() {
  const live = liveOrders();
  if (live.size === 0) return;
  const query = new URLSearchParams();
  for (const no of live.keys()) query.append("no", no);
  try {
    const response = await fetch("/console/feed/orders?" + query, { credentials: "same-origin" });
    if (response.ok) {
      const body = await response.json();
      let ended = false;
      for (const order of body.orders) {
        for (const element of live.get(order.orderNo) || []) applyOrder(element, order);
        ended = ended || ENDED.has(order.status);
      }
      if (ended && document.body.dataset.reloadOnEnd !== undefined) {
        window.location.reload();
        return;
      }
    }
  } catch (error) {
    // offline for a moment: try again at the next tick
  }
  setTimeout(pollOrders, 2000);
}

document.addEventListener("DOMContentLoaded", () => {
  setUpCopyButtons();
  setTimeout(pollOrders, 1000);
});

window.yinzi = { csrfToken };
