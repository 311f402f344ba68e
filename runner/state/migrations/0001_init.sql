-- The first schema: what `dynobox start` remembers between runs.
CREATE TABLE formation (
	type     TEXT PRIMARY KEY,
	quantity INTEGER NOT NULL CHECK (quantity >= 0)
);

CREATE TABLE config_vars (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

-- config is the full set of config vars of the release, as a JSON object,
-- so a rollback can restore it.
CREATE TABLE releases (
	version     INTEGER PRIMARY KEY,
	description TEXT NOT NULL,
	created_at  TEXT NOT NULL,
	config      TEXT NOT NULL DEFAULT '{}',
	build_id    TEXT NOT NULL DEFAULT '',
	status      TEXT NOT NULL DEFAULT 'succeeded'
);

CREATE TABLE dyno_events (
	id          INTEGER PRIMARY KEY,
	at          TEXT NOT NULL,
	dyno        TEXT NOT NULL,
	type        TEXT NOT NULL,
	from_state  TEXT NOT NULL,
	to_state    TEXT NOT NULL,
	exit_status INTEGER
);

CREATE TABLE addons (
	name       TEXT PRIMARY KEY,
	plan       TEXT NOT NULL,
	as_name    TEXT NOT NULL DEFAULT '',
	created_at TEXT NOT NULL
);

CREATE TABLE logs (
	id      INTEGER PRIMARY KEY,
	at      TEXT NOT NULL,
	source  TEXT NOT NULL,
	process TEXT NOT NULL,
	text    TEXT NOT NULL
);
