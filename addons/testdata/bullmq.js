// Adds N jobs to a BullMQ queue on $REDIS_URL and processes them with a
// worker; prints one JSON line with what happened. Run by
// TestRedisBullMQ after it npm-installs bullmq and ioredis.
const { Queue, Worker } = require('bullmq');
const IORedis = require('ioredis');

const N = Number(process.env.JOBS || 1000);
const connection = () => new IORedis(process.env.REDIS_URL, { maxRetriesPerRequest: null });

async function main() {
  const started = Date.now();
  const queue = new Queue('dynobox-test', { connection: connection() });
  const results = new Map();
  let worker;
  const finished = new Promise((resolve, reject) => {
    worker = new Worker('dynobox-test', async (job) => job.data.n * 2, { connection: connection(), concurrency: 20 });
    worker.on('completed', (job, result) => {
      results.set(job.data.n, result);
      if (results.size === N) resolve();
    });
    worker.on('failed', (job, err) => reject(new Error(`job ${job && job.id} failed: ${err.message}`)));
    worker.on('error', reject);
  });
  const adds = [];
  for (let n = 0; n < N; n++) adds.push(queue.add('double', { n }));
  const jobs = await Promise.all(adds);
  await finished;
  let wrong = 0;
  for (let n = 0; n < N; n++) if (results.get(n) !== n * 2) wrong++;
  const counts = await queue.getJobCounts('completed', 'failed', 'waiting', 'active', 'delayed');
  console.log(JSON.stringify({ added: jobs.length, processed: results.size, wrong, counts, ms: Date.now() - started }));
  await worker.close();
  await queue.close();
}

main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
