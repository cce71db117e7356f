// poolsChanged over WebSocket (graphql-transport-ws), by hand: connection_init carries the
// key, one subscription, pings answered, and a new socket after a drop (1 s, 2 s, ... 15 s).
import { storedKey } from './api';

export interface LivePool {
  id: string;
  cap: number;
  inUse: number;
  available: number;
  activeLeases: number;
  queueLength: number;
}

type Listener = (pool: LivePool) => void;
const listeners = new Set<Listener>();
const statusListeners = new Set<(connected: boolean) => void>();
let socket: WebSocket | null = null;
let retry: ReturnType<typeof setTimeout> | null = null;
let attempts = 0;
let stopped = true;

const QUERY = 'subscription { poolsChanged { id cap inUse available activeLeases queueLength } }';

function setConnected(connected: boolean): void {
  for (const l of statusListeners) l(connected);
}

function open(): void {
  const key = storedKey();
  if (!key || stopped) return;
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`;
  const ws = new WebSocket(url, 'graphql-transport-ws');
  socket = ws;
  ws.onopen = () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${key}` } }));
  ws.onmessage = (event) => {
    let msg: { type: string; id?: string; payload?: { data?: { poolsChanged?: LivePool } } };
    try {
      msg = JSON.parse(String(event.data)) as typeof msg;
    } catch {
      return;
    }
    if (msg.type === 'connection_ack') {
      attempts = 0;
      setConnected(true);
      ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: QUERY } }));
    } else if (msg.type === 'ping') ws.send(JSON.stringify({ type: 'pong' }));
    else if (msg.type === 'next' && msg.payload?.data?.poolsChanged) {
      const pool = msg.payload.data.poolsChanged;
      for (const l of listeners) l(pool);
    }
  };
  ws.onclose = () => {
    if (socket === ws) socket = null;
    setConnected(false);
    if (stopped) return;
    attempts++;
    retry = setTimeout(open, Math.min(15_000, 1000 * attempts));
  };
}

export function startLive(): void {
  if (!stopped) return;
  stopped = false;
  open();
}

export function stopLive(): void {
  stopped = true;
  if (retry) clearTimeout(retry);
  retry = null;
  socket?.close(1000);
  socket = null;
}

export function onPoolChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function onLiveStatus(listener: (connected: boolean) => void): () => void {
  statusListeners.add(listener);
  return () => statusListeners.delete(listener);
}
