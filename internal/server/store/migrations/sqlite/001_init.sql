CREATE TABLE jobs (
	id            TEXT PRIMARY KEY,
	kind          TEXT NOT NULL,
	target        TEXT NOT NULL,
	image         TEXT NOT NULL DEFAULT '',
	state         TEXT NOT NULL,
	attempts      INTEGER NOT NULL DEFAULT 0,
	completions   INTEGER NOT NULL DEFAULT 0,
	lease_owner   TEXT NOT NULL DEFAULT '',
	lease_expires BIGINT NOT NULL DEFAULT 0,
	error         TEXT NOT NULL DEFAULT '',
	digest        TEXT NOT NULL DEFAULT '',
	created_at    BIGINT NOT NULL,
	started_at    BIGINT NOT NULL DEFAULT 0,
	finished_at   BIGINT NOT NULL DEFAULT 0,
	finished_by   TEXT NOT NULL DEFAULT '',
	report        TEXT
);
CREATE INDEX jobs_state_created ON jobs (state, created_at);

CREATE TABLE images (
	digest     TEXT PRIMARY KEY,
	image      TEXT NOT NULL,
	target     TEXT NOT NULL,
	job_id     TEXT NOT NULL DEFAULT '',
	scanned_at BIGINT NOT NULL,
	db_built   BIGINT NOT NULL DEFAULT 0,
	critical   INTEGER NOT NULL DEFAULT 0,
	high       INTEGER NOT NULL DEFAULT 0,
	medium     INTEGER NOT NULL DEFAULT 0,
	low        INTEGER NOT NULL DEFAULT 0,
	unknown    INTEGER NOT NULL DEFAULT 0,
	vulns      TEXT NOT NULL DEFAULT '[]',
	report     TEXT NOT NULL
);

CREATE TABLE audits (
	id         TEXT PRIMARY KEY,
	created_at BIGINT NOT NULL,
	report     TEXT NOT NULL
);
CREATE INDEX audits_created ON audits (created_at);
