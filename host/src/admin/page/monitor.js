// The VampireTCP monitor page: reads the admin API with the operator's
// token (kept in this tab's sessionStorage) and never writes data into
// the page as HTML, only as text.
"use strict";

const $ = (selector) => document.querySelector(selector);
const state = { token: sessionStorage.getItem("vampire-token") || "", rooms: [], sort: { key: "age_secs", dir: 1 }, selected: null, stream: null };

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
  return node;
}

function toast(text, isError = false) {
  const box = $("#toast");
  box.textContent = text;
  box.className = isError ? "error" : "";
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 4000);
}

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${state.token}` };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { ...options, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(body.error?.message || `${response.status} ${response.statusText}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

function age(seconds) {
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${seconds % 60}s`;
  return `${Math.floor(seconds / 3600)}h ${Math.floor((seconds % 3600) / 60)}m`;
}

function json(value) {
  const text = JSON.stringify(value);
  return text.length > 160 ? `${text.slice(0, 157)}…` : text;
}

// --- server and charts -----------------------------------------------

async function refreshServer() {
  const info = await api("/admin/server");
  const uptime = age(info.uptime_secs);
  $("#server").textContent = `v${info.version}${info.node ? ` · node ${info.node}` : ""} · up ${uptime} · ${info.rooms} rooms · ${info.members} members`;
  $("#draining").hidden = !info.draining;
}

function drawChart(canvas, values, color) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth * ratio, height = canvas.clientHeight * ratio;
  canvas.width = width; canvas.height = height;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, width, height);
  const points = values.map((v) => (v == null ? null : v));
  // From zero, with headroom, so a steady value reads as steady.
  const max = Math.max(1e-9, ...points.filter((v) => v != null)) * 1.25;
  ctx.strokeStyle = color; ctx.lineWidth = 1.5 * ratio; ctx.beginPath();
  let started = false;
  points.forEach((v, i) => {
    if (v == null) { started = false; return; }
    const x = points.length < 2 ? width : (i / (points.length - 1)) * width;
    const y = height - (v / max) * (height - 4 * ratio) - 2 * ratio;
    if (started) ctx.lineTo(x, y); else { ctx.moveTo(x, y); started = true; }
  });
  ctx.stroke();
}

async function refreshHistory() {
  const { samples } = await api("/admin/history");
  const last = samples[samples.length - 1];
  drawChart($("#chart-connections"), samples.map((s) => s.connections), "#7aa2ff");
  drawChart($("#chart-deliveries"), samples.map((s) => s.deliveries_per_sec), "#4fc38a");
  drawChart($("#chart-p99"), samples.map((s) => s.plugin_p99_ms), "#f0b04a");
  $("#now-connections").textContent = last ? last.connections : "–";
  $("#now-deliveries").textContent = last ? Math.round(last.deliveries_per_sec).toLocaleString() : "–";
  $("#now-p99").textContent = last && last.plugin_p99_ms != null ? `${last.plugin_p99_ms.toFixed(2)} ms` : "–";
}

// --- rooms table ------------------------------------------------------

async function refreshTypes() {
  const { room_types } = await api("/admin/room-types");
  const select = $("#type-filter");
  const chosen = select.value;
  select.replaceChildren(el("option", { value: "" }, "all"), ...room_types.map((t) => el("option", { value: t.name }, `${t.name} (${t.rooms})`)));
  select.value = room_types.some((t) => t.name === chosen) ? chosen : "";
}

async function refreshRooms() {
  const type = $("#type-filter").value;
  const query = new URLSearchParams({ limit: "1000" });
  if (type) query.set("type", type);
  const page = await api(`/admin/rooms?${query}`);
  state.rooms = page.rooms;
  const unreachable = page.unreachable_nodes.length ? ` · ${page.unreachable_nodes.length} nodes not answering` : "";
  $("#room-count").textContent = `${page.total}${unreachable}`;
  renderRooms();
}

function renderRooms() {
  const { key, dir } = state.sort;
  const rooms = [...state.rooms].sort((a, b) => {
    const x = a[key] ?? "", y = b[key] ?? "";
    return (typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y))) * dir;
  });
  for (const th of document.querySelectorAll("#rooms th[data-sort]")) {
    th.classList.toggle("asc", th.dataset.sort === key && dir > 0);
    th.classList.toggle("desc", th.dataset.sort === key && dir < 0);
  }
  const rows = rooms.map((room) => {
    const flags = el("td");
    if (!room.public) flags.append(el("span", { class: "badge" }, "private"));
    if (room.locked) flags.append(el("span", { class: "badge warn" }, "locked"));
    if (room.password_protected) flags.append(el("span", { class: "badge" }, "password"));
    return el("tr", { dataset: { room: room.id }, class: room.id === state.selected ? "selected" : "", onclick: () => openRoom(room.id) },
      el("td", {}, el("code", {}, room.id)), el("td", {}, room.type), el("td", {}, room.name),
      el("td", { class: "num" }, `${room.members} / ${room.max_clients}`), el("td", { class: "num" }, age(room.age_secs)),
      flags, el("td", {}, room.node ?? "–"));
  });
  $("#rooms tbody").replaceChildren(...rows);
  $("#rooms-empty").hidden = rooms.length > 0;
}

// --- one room, live ---------------------------------------------------

function renderRoom(room) {
  $("#detail").hidden = false;
  $("#detail").dataset.room = room.id;
  $("#detail-title").textContent = room.name ? `${room.name} · ${room.id}` : room.id;
  const facts = [
    ["Type", room.room_type], ["Members", `${room.members.length} / ${room.max_clients}`],
    ["Visibility", room.public ? "public" : "private"], ["Locked", room.locked ? "yes" : "no"],
    ["Password", room.password_protected ? "yes" : "no"], ["Owner", room.owner_user ?? "–"],
    ["Created", new Date(room.created_unix_ms).toLocaleString()],
    ["Clock", room.clock.tick_hz ? `${room.clock.tick_hz} Hz · ${room.clock.ticks} ticks · ${room.clock.timers} timers` : `no tick · ${room.clock.timers} timers`],
    ["Plugin", room.plugin ? `${room.plugin.sha256.slice(0, 12)}… · ${(room.plugin.memory_bytes / 1048576).toFixed(1)} MiB` : "built-in"],
    ["Metadata", json(room.metadata)],
  ];
  $("#detail-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  $("#members tbody").replaceChildren(...room.members.map((m) => el("tr", { dataset: { session: m.session } },
    el("td", {}, m.session), el("td", {}, m.user_id ?? "–"), el("td", {}, m.name ?? "–"), el("td", {}, m.address),
    el("td", { class: "num" }, m.queue_bytes),
    el("td", {}, el("button", { class: "small danger", onclick: () => kick(room.id, m.session) }, "Kick")))));
  $("#variables tbody").replaceChildren(...room.variables.map((v) => {
    const rules = [v.broadcast ? "broadcast" : "private", `${v.writer} writes`];
    if (v.hidden) rules.push("hidden");
    if (v.unreliable) rules.push("unreliable");
    return el("tr", { dataset: { variable: v.name } }, el("td", {}, v.name), el("td", { class: "num" }, v.bytes),
      el("td", {}, rules.join(", ")), el("td", { class: "value" }, json(v.value)));
  }));
  const to = $("#message-to"), chosen = to.value;
  to.replaceChildren(el("option", { value: "" }, "every member"), ...room.members.map((m) => el("option", { value: m.session }, `session ${m.session}${m.name ? ` (${m.name})` : ""}`)));
  to.value = room.members.some((m) => String(m.session) === chosen) ? chosen : "";
}

function roomGone(id) {
  if (state.selected !== id) return;
  $("#live").textContent = "closed";
  $("#live").className = "badge off";
  $("#dispose").disabled = true;
  refreshRooms().catch(() => {});
}

// Server-sent events read through fetch, so the token goes in a header
// (EventSource cannot send one).
async function follow(id, abort) {
  const response = await fetch(`/admin/rooms/${encodeURIComponent(id)}/events`, { headers: { Authorization: `Bearer ${state.token}` }, signal: abort.signal });
  if (!response.ok) throw new Error((await response.json().catch(() => ({}))).error?.message || response.statusText);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return false;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).replace(/^ /, "");
      }
      if (event === "room") renderRoom(JSON.parse(data));
      else if (event === "closed") { roomGone(id); return true; }
    }
  }
}

function openRoom(id) {
  if (state.stream) state.stream.abort();
  state.selected = id;
  renderRooms();
  $("#live").textContent = "live"; $("#live").className = "badge ok";
  $("#dispose").disabled = false;
  const abort = new AbortController();
  state.stream = abort;
  (async () => {
    // A stream ends after a while, or when a node restarts: open it again.
    while (!abort.signal.aborted && state.selected === id) {
      try { if (await follow(id, abort)) return; }
      catch (error) {
        if (abort.signal.aborted) return;
        if (/no room/.test(error.message)) { roomGone(id); return; }
        $("#live").textContent = "reconnecting"; $("#live").className = "badge warn";
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  })();
}

async function act(path, body, done) {
  try { await api(path, { method: "POST", body }); toast(done); }
  catch (error) { toast(error.message, true); }
}

function kick(room, session) {
  act(`/admin/rooms/${encodeURIComponent(room)}/kick`, { session }, `kicked session ${session}`);
}

// --- wiring -----------------------------------------------------------

async function refreshAll() {
  if (!state.token) return;
  try {
    await Promise.all([refreshServer(), refreshRooms(), refreshHistory()]);
    showSignedIn(true);
  } catch (error) {
    if (error.status === 401 || error.status === 403) { signOut(); toast(error.message, true); }
  }
}

function showSignedIn(signedIn) {
  $("#signout").hidden = !signedIn;
  $("#token").hidden = signedIn;
  $("#signin button[type=submit]").hidden = signedIn;
}

function signOut() {
  state.token = ""; sessionStorage.removeItem("vampire-token");
  $("#server").textContent = "not signed in"; showSignedIn(false);
  if (state.stream) state.stream.abort();
}

document.addEventListener("DOMContentLoaded", () => {
  $("#signin").addEventListener("submit", (event) => {
    event.preventDefault();
    state.token = $("#token").value.trim();
    $("#token").value = "";
    sessionStorage.setItem("vampire-token", state.token);
    refreshTypes().catch(() => {});
    refreshAll();
  });
  $("#signout").addEventListener("click", signOut);
  $("#type-filter").addEventListener("change", () => refreshRooms().catch((e) => toast(e.message, true)));
  for (const th of document.querySelectorAll("#rooms th[data-sort]")) {
    th.addEventListener("click", () => {
      const key = th.dataset.sort;
      state.sort = { key, dir: state.sort.key === key ? -state.sort.dir : 1 };
      renderRooms();
    });
  }
  $("#dispose").addEventListener("click", () => {
    const id = state.selected;
    if (id) act(`/admin/rooms/${encodeURIComponent(id)}/dispose`, { reason: "closed by an operator" }, `disposed ${id}`);
  });
  $("#close-detail").addEventListener("click", () => {
    if (state.stream) state.stream.abort();
    state.selected = null; $("#detail").hidden = true; renderRooms();
  });
  $("#message").addEventListener("submit", (event) => {
    event.preventDefault();
    let data;
    try { data = JSON.parse($("#message-data").value); } catch { toast("the message is not JSON", true); return; }
    const to = $("#message-to").value;
    const body = to ? { to: Number(to), data } : { data };
    act(`/admin/rooms/${encodeURIComponent(state.selected)}/message`, body, "message sent");
  });
  if (state.token) refreshTypes().catch(() => {});
  refreshAll();
  setInterval(refreshAll, 2000);
  setInterval(() => { if (state.token) refreshTypes().catch(() => {}); }, 10000);
});
