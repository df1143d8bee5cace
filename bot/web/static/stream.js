// The live stream: reconnects by itself and resumes the tape where it left off.

const RETRY_MS = [500, 1000, 2000, 5000, 10000];

export class Stream {
  constructor(handlers) {
    this.handlers = handlers; // onHello, onTape, onSnapshot, onState
    this.epoch = null;
    this.seq = null;
    this.filter = {};
    this.ws = null;
    this.failures = 0;
    this.timer = null;
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(this.filter)) {
      if (value !== null && value !== undefined && value !== "") query.set(name, String(value));
    }
    if (this.epoch !== null && this.seq !== null) {
      query.set("since", String(this.seq));
      query.set("epoch", this.epoch);
    }
    const text = query.toString();
    return `${scheme}//${location.host}/api/v1/stream${text ? "?" + text : ""}`;
  }

  open() {
    clearTimeout(this.timer);
    const ws = new WebSocket(this.url());
    this.ws = ws;
    ws.addEventListener("message", (message) => this.receive(message.data));
    ws.addEventListener("open", () => {
      this.failures = 0;
      this.handlers.onState(true);
    });
    ws.addEventListener("close", () => {
      if (this.ws !== ws) return;
      this.handlers.onState(false);
      const wait = RETRY_MS[Math.min(this.failures, RETRY_MS.length - 1)];
      this.failures += 1;
      this.timer = setTimeout(() => this.open(), wait * (0.75 + Math.random() / 2));
    });
  }

  receive(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    if (message.type === "hello") {
      const resumed = message.resumed && message.epoch === this.epoch;
      this.epoch = message.epoch;
      this.seq = message.seq;
      this.handlers.onHello(message, resumed);
    } else if (message.type === "tape") {
      this.seq = Math.max(this.seq ?? 0, message.seq);
      this.handlers.onTape(message);
    } else if (message.type === "snapshot") {
      this.handlers.onSnapshot(message);
    }
  }

  setFilter(filter) {
    this.filter = filter;
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify({ type: "filter", ...filter }));
    }
  }
}
