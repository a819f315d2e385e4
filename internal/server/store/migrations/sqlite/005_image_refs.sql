-- Each result's canonical image reference (CanonicalRef: docker.io/library/
-- for official images, the tag latest when none, name@digest for pinned
-- references), so that equivalent names find the same scan; existing rows
-- are filled in by the migration's Go step. images_version counts changes
-- to the images table: caches of image results reload when it moves.
ALTER TABLE images ADD COLUMN ref TEXT NOT NULL DEFAULT '';
CREATE INDEX images_ref_scanned ON images (ref, scanned_at);
CREATE TABLE images_version (
	id      INTEGER PRIMARY KEY,
	version BIGINT NOT NULL
);
INSERT INTO images_version (id, version) VALUES (1, 0);
