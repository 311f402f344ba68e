-- Autoscaling of a process type (ps:autoscale:enable); no row: scaled by hand.
CREATE TABLE autoscale (
	type          TEXT PRIMARY KEY,
	min           INTEGER NOT NULL,
	max           INTEGER NOT NULL,
	p95_ms        INTEGER NOT NULL,
	notifications INTEGER NOT NULL DEFAULT 0
);
