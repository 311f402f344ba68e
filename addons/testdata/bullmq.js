// Adds N jobs to a BullMQ queue and processes them with a worker, against
// the Redis at REDIS_URL; prints "processed <n> of <N>" and exits 0 when
// every job completed with the result the worker returned.
const { Queue, Worker, QueueEvents } = require('bullmq');
const IORedis = require('ioredis');

const N = Number(process.env.JOBS || 1000);
const connection = new IORedis(process.env.REDIS_URL, { maxRetriesPerRequest: null });

async function main() {
  const queue = new Queue('e2e', { connection });
  await queue.obliterate({ force: true }).catch(() => {});
  let done = 0;
  let failed = 0;
  const finished = new Promise((resolve) => {
    const worker = new Worker('e2e', async (job) => ({ double: job.data.n * 2 }), { connection, concurrency: 20 });
    worker.on('completed', (job, result) => {
      if (result.double !== job.data.n * 2) failed++;
      if (++done === N) resolve(worker);
    });
    worker.on('failed', (job, err) => { console.error('job failed:', err.message); failed++; });
    worker.on('error', (err) => { console.error('worker error:', err.message); });
  });
  const start = Date.now();
  for (let i = 0; i < N; i += 100) {
    await queue.addBulk(Array.from({ length: Math.min(100, N - i) }, (_, j) => ({ name: 'double', data: { n: i + j }, opts: { removeOnComplete: false } })));
  }
  const worker = await finished;
  const counts = await queue.getJobCounts('completed', 'failed', 'waiting', 'active');
  console.log(`processed ${done} of ${N} in ${Date.now() - start} ms; counts ${JSON.stringify(counts)}; wrong results ${failed}`);
  await worker.close();
  await queue.close();
  connection.disconnect();
  process.exit(done === N && failed === 0 && counts.completed === N ? 0 : 1);
}

main().catch((err) => { console.error(err); process.exit(1); });
