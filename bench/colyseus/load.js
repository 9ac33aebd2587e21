// Load script for the Colyseus peer, with the same scenario as the Rust
// load generator (bench/src/load.rs): R rooms of C clients; each client
// sends M messages a second carrying a send timestamp and padding to 64
// bytes; every member, the sender included, receives each one. Latency is
// measured per delivery; server CPU and peak memory are read from /proc.
//
// Usage: node load.js --port P --rooms R --clients C --rate M
//                     --duration S --warmup S --server-pid PID
// Prints one line: RESULT {json}
const fs = require("fs");
const { Client } = require("@colyseus/sdk");

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, word, i, all) => {
    if (word.startsWith("--")) pairs.push([word.slice(2), all[i + 1]]);
    return pairs;
  }, []),
);
const port = Number(args.port);
const rooms = Number(args.rooms || 10);
const clients = Number(args.clients || 50);
const rate = Number(args.rate || 10);
const duration = Number(args.duration || 10);
const warmup = Number(args.warmup || 2);
const serverPid = args["server-pid"];

const base = process.hrtime.bigint();
const now = () => Number(process.hrtime.bigint() - base);
// {t, p} is 64 bytes in MessagePack with this padding, as in the Rust load.
const padding = "x".repeat(47);

function usage(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / 100;
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const peak = Number(/VmHWM:\s+(\d+)/.exec(status)[1]) * 1024;
  return { cpuSeconds, peak };
}

async function main() {
  const client = new Client(`ws://127.0.0.1:${port}`);
  const connections = [];
  for (let r = 0; r < rooms; r++) {
    const first = await client.create("chat", { maxClients: clients });
    const members = [first];
    const rest = [];
    for (let c = 1; c < clients; c++) rest.push(client.joinById(first.roomId));
    members.push(...(await Promise.all(rest)));
    connections.push(...members);
  }
  let windowStart = Infinity;
  let windowEnd = Infinity;
  let sent = 0;
  let delivered = 0;
  const latencies = [];
  for (const room of connections) {
    room.onMessage("chat", (message) => {
      if (message.t >= windowStart && message.t < windowEnd) {
        delivered++;
        latencies.push(now() - message.t);
      }
    });
  }
  const timers = connections.map((room, i) => {
    const start = () =>
      setInterval(() => {
        const t = now();
        if (t >= windowStart && t < windowEnd) sent++;
        room.send("chat", { t, p: padding });
      }, 1000 / rate);
    // Spread the clients' first sends over one period.
    return new Promise((resolve) => setTimeout(() => resolve(start()), (i * 1000) / rate / connections.length));
  });
  const intervals = await Promise.all(timers);
  await new Promise((resolve) => setTimeout(resolve, warmup * 1000));
  const before = usage(serverPid);
  windowStart = now();
  await new Promise((resolve) => setTimeout(resolve, duration * 1000));
  windowEnd = now();
  const after = usage(serverPid);
  intervals.forEach(clearInterval);
  // Let the last messages of the window arrive.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  latencies.sort((a, b) => a - b);
  const at = (q) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] : 0);
  const seconds = (windowEnd - windowStart) / 1e9;
  const result = {
    sent_per_s: sent / seconds,
    offered_per_s: (sent * clients) / seconds,
    delivered_per_s: delivered / seconds,
    p50_ns: at(0.5),
    p99_ns: at(0.99),
    p999_ns: at(0.999),
    server_cpu_s: after.cpuSeconds - before.cpuSeconds,
    peak_rss_bytes: after.peak,
    window_s: seconds,
  };
  console.log("RESULT " + JSON.stringify(result));
  await Promise.all(connections.map((room) => room.leave().catch(() => {})));
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
