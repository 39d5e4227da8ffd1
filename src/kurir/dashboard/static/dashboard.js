// Kurir's dashboard: the little the pages do without a round trip.
"use strict";

// Send: show the fields of the chosen kind, and the request as curl and Python.
function sendForm(form) {
  const kinds = ["text", "media", "button"];
  const fields = {
    text: ["message"],
    media: ["url", "type", "caption", "filename"],
    button: ["message_header", "message", "message_footer"],
  };
  const pyMethods = { text: "send_text", media: "send_media", button: "send_button" };
  function kind() {
    const checked = form.querySelector("input[name=kind]:checked");
    return checked && kinds.includes(checked.value) ? checked.value : "text";
  }
  function body() {
    const k = kind();
    const value = (name) => (form.elements[name] ? form.elements[name].value : "");
    const out = { device: value("device"), phone: value("phone") };
    for (const name of fields[k]) {
      const v = value(name);
      if (v || ["message", "message_header", "message_footer", "url"].includes(name)) out[name] = v;
    }
    if (k === "button") {
      out.buttons = value("buttons").split("\n").map((s) => s.trim()).filter((s) => s);
    }
    const schedule = value("schedule").trim();
    if (schedule) out.schedule = schedule.replace("T", " ");
    return out;
  }
  function py(value) {
    if (Array.isArray(value)) return "[" + value.map(py).join(", ") + "]";
    return JSON.stringify(value);
  }
  function render() {
    const k = kind();
    for (const label of form.querySelectorAll("[data-kinds]")) {
      label.hidden = !label.dataset.kinds.split(" ").includes(k);
    }
    const b = body();
    const base = form.dataset.baseUrl;
    const json = JSON.stringify(b, null, 2).replace(/'/g, "'\\''");
    document.getElementById("as-curl").textContent =
      `curl -X POST ${base}/send/${k} \\\n  -H "Authorization: Bearer $KURIR_API_KEY" \\\n` +
      `  -H "Content-Type: application/json" \\\n  -d '${json}'`;
    // kurir.Client names a button message's header and footer without "message_".
    const pyName = { message_header: "header", message_footer: "footer" };
    const args = Object.entries(b)
      .map(([name, v]) => `    ${pyName[name] || name}=${py(v)},`)
      .join("\n");
    document.getElementById("as-python").textContent =
      `import os\n\nimport kurir\n\nclient = kurir.Client("${base}", os.environ["KURIR_API_KEY"])\n` +
      `sent = client.${pyMethods[k]}(\n${args}\n)\nprint(sent.message_id)`;
  }
  form.addEventListener("input", render);
  form.addEventListener("change", render);
  render();
}

// Pairing: follow the code WhatsApp shows now, until the phone links.
function pairing(box) {
  const show = (id, on) => { document.getElementById(id).hidden = !on; };
  async function poll() {
    let data;
    try {
      const answer = await fetch(box.dataset.poll, { credentials: "same-origin" });
      data = await answer.json();
    } catch (error) {
      setTimeout(poll, 2000);
      return;
    }
    if (data.error) {
      document.getElementById("pair-message").textContent = data.error;
      return;
    }
    document.getElementById("pair-state").textContent = data.state;
    show("pair-done", data.paired);
    show("pair-qr-box", !data.paired && !!data.qr_image);
    show("pair-code-box", !data.paired && !!data.pair_code);
    if (data.qr_image) {
      const img = document.getElementById("pair-qr");
      if (img.getAttribute("src") !== data.qr_image) img.setAttribute("src", data.qr_image);
      document.getElementById("pair-qr-at").textContent = data.qr_updated_at || "";
    }
    document.getElementById("pair-code").textContent = data.pair_code || "";
    document.getElementById("pair-message").textContent = data.message || data.last_result || "";
    if (!data.paired) setTimeout(poll, 1000);
  }
  poll();
}

// The sandbox phone reloads to show new messages and receipts, unless someone is typing.
function refreshing(section) {
  const text = section.querySelector("input[name=text]");
  setInterval(() => {
    if ((!text || !text.value) && !section.querySelector("details[open]")) location.reload();
  }, Number(section.dataset.refresh));
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("send-form");
  if (form) sendForm(form);
  const box = document.getElementById("pairing");
  if (box) pairing(box);
  const phone = document.querySelector("[data-refresh]");
  if (phone) refreshing(phone);
});
