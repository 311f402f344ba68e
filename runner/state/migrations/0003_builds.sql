-- Builds, and whether each release's release phase has run.
CREATE TABLE builds (
	id          TEXT PRIMARY KEY,
	started_at  TEXT NOT NULL,
	duration_ms INTEGER NOT NULL,
	status      TEXT NOT NULL,
	kind        TEXT NOT NULL DEFAULT '',
	output      TEXT NOT NULL DEFAULT ''
);

-- phase: '' (no release phase has run), 'succeeded' or 'failed'.
ALTER TABLE releases ADD COLUMN phase TEXT NOT NULL DEFAULT '';
