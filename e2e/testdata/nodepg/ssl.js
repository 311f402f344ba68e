// Connects as Heroku's docs tell Node apps to: DATABASE_URL with
// ssl: { rejectUnauthorized: false }. Prints whether the server sees SSL.
const { Client } = require(__dirname + '/node_modules/pg');
const client = new Client({ connectionString: process.env.DATABASE_URL, ssl: { rejectUnauthorized: false } });
client.connect()
  .then(() => client.query('SELECT ssl, current_user AS who FROM pg_stat_ssl WHERE pid = pg_backend_pid()'))
  .then((r) => { console.log('ssl=' + r.rows[0].ssl + ' user=' + r.rows[0].who); return client.end(); })
  .catch((e) => { console.error('node-postgres: ' + e.message); process.exit(1); });
