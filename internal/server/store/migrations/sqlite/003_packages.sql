-- The packages of each image's latest scan: all of them, those not checked
-- against the advisories (no advisories for their ecosystem or release,
-- unknown ecosystem, unparsable version) and the package files that could
-- not be read.
ALTER TABLE images ADD COLUMN packages INTEGER NOT NULL DEFAULT 0;
ALTER TABLE images ADD COLUMN unchecked INTEGER NOT NULL DEFAULT 0;
ALTER TABLE images ADD COLUMN unreadable INTEGER NOT NULL DEFAULT 0;
