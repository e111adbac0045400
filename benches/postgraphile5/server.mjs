// PostGraphile 5 behind grafserv's Node adapter, in WORKERS processes (node:cluster) sharing
// one listening socket, each with its share of 16 pooled connections (POOL = 16 / WORKERS).
// Env: PG_URL, HOST (127.0.0.1), PORT (5678), WORKERS (2). Runs until SIGINT/SIGTERM.
import cluster from 'node:cluster';
import { createServer } from 'node:http';

const workers = Number(process.env.WORKERS ?? 2);

if (cluster.isPrimary && workers > 1) {
  const pool = Math.max(1, Math.floor(16 / workers));
  let stopping = false;
  for (let i = 0; i < workers; i++) cluster.fork({ POOL: String(pool) });
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    console.error(`worker ${worker.process.pid} exited (${signal ?? code}); stopping`);
    stopping = true;
    for (const w of Object.values(cluster.workers)) w?.kill();
    process.exitCode = 1;
  });
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
      stopping = true;
      for (const w of Object.values(cluster.workers)) w?.kill();
    });
  }
  console.log(`postgraphile 5: ${workers} workers, ${pool} connections each`);
} else {
  if (cluster.isPrimary) process.env.POOL ??= '16';
  const { postgraphile } = await import('postgraphile');
  const { grafserv } = await import('postgraphile/grafserv/node');
  const { default: preset } = await import('./graphile.config.mjs');
  const pgl = postgraphile(preset);
  const serv = pgl.createServ(grafserv);
  const server = createServer();
  server.once('error', (e) => {
    console.error(e);
    process.exit(1);
  });
  await serv.addTo(server);
  await pgl.getSchema(); // build the schema before accepting requests
  const { host, port } = preset.grafserv;
  server.listen(port, host);
  const stop = () => {
    server.close();
    server.closeAllConnections();
    pgl.release().finally(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
