// Yinzi User Center, new-order page: upload the chosen file at once with a progress bar, put the
// stored file's key into the form, show this file's price for each order type, and show only the
// fields of the chosen type. Without this file the form posts the file itself.
"use strict";

function orderCsrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

function showFieldsOf(form, type) {
  for (const element of form.querySelectorAll("[data-for]")) {
    element.hidden = !element.dataset.for.split(" ").includes(type);
  }
}

function showQuotes(quotes) {
  for (const cell of document.querySelectorAll("[data-quote-credits]")) {
    const credits = quotes[cell.dataset.quoteCredits];
    if (credits !== null && credits !== undefined) cell.textContent = String(credits);
  }
}

function uploadFile(form, input) {
  const file = input.files[0];
  if (!file) return;
  const progress = document.getElementById("upload-progress");
  const status = document.getElementById("upload-status");
  const pathKey = document.getElementById("order-path-key");
  const submit = form.querySelector('button[type="submit"]');
  const body = new FormData();
  body.append("file", file);
  const request = new XMLHttpRequest();
  request.open("POST", form.dataset.uploadUrl);
  request.setRequestHeader("X-CSRF-Token", orderCsrfToken());
  request.responseType = "json";
  progress.hidden = false;
  progress.value = 0;
  status.textContent = status.dataset.uploading + " " + file.name;
  pathKey.value = "";
  submit.disabled = true;
  request.upload.addEventListener("progress", (event) => {
    if (event.lengthComputable) progress.value = Math.round((event.loaded / event.total) * 100);
  });
  request.addEventListener("loadend", () => {
    submit.disabled = false;
    const answer = request.response || {};
    if (request.status === 200 && answer.pathKey) {
      progress.value = 100;
      pathKey.value = answer.pathKey;
      input.disabled = true;
      status.textContent = status.dataset.uploaded + " " + answer.filename;
      status.dataset.done = "true";
      showQuotes(answer.quotes || {});
    } else {
      progress.hidden = true;
      status.textContent = status.dataset.failed + " " + (answer.error || "");
    }
  });
  request.send(body);
}

function setUpOrderForm() {
  const form = document.getElementById("order-form");
  if (!form) return;
  const type = document.getElementById("order-type");
  showFieldsOf(form, type.value);
  type.addEventListener("change", () => showFieldsOf(form, type.value));
  const input = document.getElementById("order-file");
  input.addEventListener("change", () => uploadFile(form, input));
}

document.addEventListener("DOMContentLoaded", setUpOrderForm);
