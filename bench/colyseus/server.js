// The Colyseus peer of the chat fan-out benchmark: one room type whose only
// behaviour is to broadcast every "chat" message to all its clients, the
// sender included, as VampireTCP's generic room does.
//
// Usage: node server.js PORT   (prints "listening on 127.0.0.1:PORT")
const { Server, Room } = require("colyseus");
const { WebSocketTransport } = require("@colyseus/ws-transport");

class ChatRoom extends Room {
  onCreate(options) {
    this.maxClients = options.maxClients || 50;
    this.onMessage("chat", (_client, message) => this.broadcast("chat", message));
  }
}

const port = Number(process.argv[2] || 2567);
const server = new Server({ transport: new WebSocketTransport(), greet: false });
server.define("chat", ChatRoom);
server.listen(port, "127.0.0.1").then(() => console.log(`listening on 127.0.0.1:${port}`));
