-- Hardened configurations (lockdown harden) by image digest and name.
CREATE TABLE harden_profiles (
	digest     TEXT NOT NULL,
	name       TEXT NOT NULL,
	job_id     TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	plan       TEXT NOT NULL,
	PRIMARY KEY (digest, name)
);
