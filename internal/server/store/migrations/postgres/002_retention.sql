-- The latest digest of each image reference (metrics) and retention.
CREATE INDEX images_image_scanned ON images (image, scanned_at);
CREATE INDEX images_scanned ON images (scanned_at);
CREATE INDEX jobs_state_finished ON jobs (state, finished_at);
