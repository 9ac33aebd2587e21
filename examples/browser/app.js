// The browser example: one connection, a `chat` room and a `positions`
// room. `?server=ws://host:7780/` picks the server (default: this page's
// host, port 7780); `?chat=ID&positions=ID` picks the rooms (default: the
// first listed of each type, created when there is none).
import { connect } from "/client/index.js";

const params = new URLSearchParams(location.search);
const url = params.get("server") ?? `ws://${location.hostname || "localhost"}:7780/`;
const status = document.getElementById("status");

/** The room of `type` the query names, else the first listed, else a new one. */
async function roomOf(client, type) {
  const named = params.get(type);
  if (named) return client.join(named);
  const { rooms } = await client.listRooms({ roomType: type });
  const id = rooms[0]?.id ?? (await client.createRoom({ roomType: type })).id;
  return client.join(id);
}

const client = await connect(url);
document.getElementById("session").textContent = String(client.session);
client.on("close", (code) => (status.textContent = `disconnected (${code})`));
client.on("error", (error) => (status.textContent = `${error.code}: ${error.message}`));

// Chat: every message the room relays, from anyone, this page included.
const chat = await roomOf(client, "chat");
const messages = document.getElementById("messages");
chat.on("message", (data, from) => {
  const line = document.createElement("li");
  line.textContent = `${from ?? "room"}: ${typeof data === "string" ? data : JSON.stringify(data)}`;
  messages.append(line);
  messages.scrollTop = messages.scrollHeight;
});
document.getElementById("chat").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = document.getElementById("text");
  chat.send(text.value).catch((error) => (status.textContent = error.message));
  text.value = "";
});

// Dots: the room sends {tick, dots: [[session, x, y], …]} at its tick
// rate; inputs are {vx, vy}, as data that may be lost.
const positions = await roomOf(client, "positions");
const canvas = document.getElementById("field");
const paint = canvas.getContext("2d");
positions.on("message", (update) => {
  if (!update || !Array.isArray(update.dots)) return;
  paint.clearRect(0, 0, canvas.width, canvas.height);
  for (const [session, x, y] of update.dots) {
    const mine = String(session) === String(client.session);
    paint.fillStyle = mine ? "#c0392b" : "#2c3e50";
    paint.beginPath();
    paint.arc(x / 2, y / 2, mine ? 8 : 6, 0, 2 * Math.PI);
    paint.fill();
  }
});
const steer = (vx, vy) => positions.sendUnreliable({ vx, vy });
for (const button of document.querySelectorAll(".pad button")) {
  button.addEventListener("click", () => steer(Number(button.dataset.vx), Number(button.dataset.vy)));
}
const keys = { ArrowLeft: [-200, 0], ArrowRight: [200, 0], ArrowUp: [0, -200], ArrowDown: [0, 200], " ": [0, 0] };
addEventListener("keydown", (event) => {
  const velocity = keys[event.key];
  if (velocity && event.target.tagName !== "INPUT") {
    event.preventDefault();
    steer(...velocity);
  }
});
status.textContent = `connected to ${url}`;
document.body.dataset.ready = "true";
